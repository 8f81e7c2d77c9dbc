"""``Router``: from a function name to a pool, with the account's concurrency limits.

The router owns the counters that throttling needs (in-flight per function and per account) and
keeps them incrementally, so a placement is O(1) however many functions and environments exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from keepwarm.config import FunctionConfig
from keepwarm.env.base import EnvFactory
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.host import EnvHost
from keepwarm.errors import FunctionNotFound, Throttled
from keepwarm.invocation import Invocation, InvocationResult
from keepwarm.pool import scheduler
from keepwarm.pool.pool import FunctionPool, Listener
from keepwarm.pool.scheduler import Action, Snapshot

LATEST = "$LATEST"
log = logging.getLogger("keepwarm")


class Router:
    def __init__(
        self,
        host: EnvHost,
        listener: Listener | None = None,
        make_env: EnvFactory = LocalEnvironment,
    ) -> None:
        self.host = host
        self._make_env = make_env
        self.pools: dict[tuple[str, str], FunctionPool] = {}
        self.reserved: dict[str, int] = {}
        self.reserved_total = 0  # sum(self.reserved.values()), kept incrementally: O(1) placement
        self.inflight_by_name: defaultdict[str, int] = defaultdict(int)
        self.account_inflight = 0
        self.unreserved_inflight = 0
        self._listener = listener
        self._retired: set[FunctionPool] = set()
        self._reaper: asyncio.Task[None] | None = None

    # -- functions -----------------------------------------------------------------------------
    async def add(self, config: FunctionConfig) -> FunctionPool:
        """Add or replace a function version; a replaced one drains (never killed mid-call)."""
        key = (config.name, config.version)
        old = self.pools.get(key)
        pool = FunctionPool(config, self.host, self._listener, self._make_env)
        self.pools[key] = pool
        if config.version == LATEST:
            self.set_reserved(config.name, config.reserved_concurrency)
        if old is not None:
            await self._retire(old)
        if config.provisioned_concurrency:
            await pool.provision()
        return pool

    async def _retire(self, pool: FunctionPool) -> None:
        self._retired.add(pool)
        await pool.drain()

    async def remove(self, name: str, version: str | None = None) -> None:
        keys = [k for k in self.pools if k[0] == name and (version is None or k[1] == version)]
        for key in keys:
            await self._retire(self.pools.pop(key))
        if version is None:
            self.set_reserved(name, None)

    def retiring(self, name: str) -> list[FunctionPool]:
        """The replaced or removed pools of ``name`` whose environments still run."""
        return [p for p in self._retired if p.config.name == name and p.envs]

    def set_reserved(self, name: str, value: int | None) -> None:
        self.reserved_total -= self.reserved.pop(name, 0)
        if value is not None:
            self.reserved[name] = value
            self.reserved_total += value

    def pool(self, name: str, version: str = LATEST) -> FunctionPool:
        pool = self.pools.get((name, version))
        if pool is None:
            qualifier = version if version != LATEST else LATEST
            raise FunctionNotFound(self.host.server.function_arn(name, qualifier))
        return pool

    def functions(self) -> list[FunctionConfig]:
        return [p.config for p in self.pools.values()]

    # -- invocation ----------------------------------------------------------------------------
    def _snapshot(self, pool: FunctionPool) -> Snapshot:
        name = pool.config.name
        idle_prov, idle, reset = pool.snapshot_parts()
        return Snapshot(
            idle_provisioned=idle_prov,
            idle_mru=idle,
            reset_mru=reset,
            function_inflight=self.inflight_by_name[name],
            reserved=self.reserved.get(name),
            account_inflight=self.account_inflight,
            account_limit=self.host.server.concurrency_limit,
            unreserved_inflight=self.unreserved_inflight,
            reserved_total=self.reserved_total,
        )

    async def invoke(
        self, name: str, invocation: Invocation, version: str = LATEST
    ) -> InvocationResult:
        pool = self.pool(name, version)
        placement = scheduler.place(self._snapshot(pool))
        if placement.action is Action.THROTTLE:
            raise Throttled(placement.reason or Throttled.ACCOUNT)
        env = pool.take(placement)
        reserved = name in self.reserved
        self._count(name, reserved, +1)
        try:
            return await pool.run(env, invocation)
        finally:
            self._count(name, reserved, -1)

    def _count(self, name: str, reserved: bool, delta: int) -> None:
        self.inflight_by_name[name] += delta
        self.account_inflight += delta
        if not reserved:
            self.unreserved_inflight += delta

    # -- housekeeping --------------------------------------------------------------------------
    async def reclaim(self) -> int:
        """Shut down expired idle environments now (the reaper calls this periodically)."""
        counts = await asyncio.gather(*(p.reclaim() for p in list(self.pools.values())))
        self._prune_retired()
        return sum(counts)

    def _prune_retired(self) -> None:
        """Forget replaced deployments whose environments are all gone, and stop their
        snapshot templates (each holds a whole Init's memory; none will fork again)."""
        gone = {p for p in self._retired if not p.envs}
        self._retired -= gone
        for pool in gone:
            if pool.snapshot_key is not None:
                self.host.launcher.stop_template(pool.snapshot_key)

    async def settled(self) -> None:
        """Until the pools' background work is done (see ``FunctionPool.settled``)."""
        await asyncio.gather(*(p.settled() for p in [*self.pools.values(), *self._retired]))

    def reap_interval(self) -> float:
        """The reaper's interval for the smallest keep-alive among the functions (the server's
        when there are none): each function's idle environments are then reclaimed within a
        quarter of its own keep-alive, as the simulator of that function assumes."""
        keep_alive = min(
            (p.policy.keep_alive_s for p in self.pools.values()),
            default=self.host.server.keep_alive_s,
        )
        return scheduler.reap_interval(keep_alive)

    def start_reaper(self, interval: float | None = None) -> None:
        """Reclaim at every multiple of the interval from now (the runtime's start) on the
        host's clock: the simulator's ticks. Without ``interval`` it is ``reap_interval()`` at
        each look, so functions added later count. A reclaim that outlasts an interval skips
        the ticks it covered; the reaper never catches up with back-to-back reclaims. With a
        clock that does not follow real time (a ``FakeClock``) it looks every interval."""
        clock = self.host.clock
        origin = clock.monotonic()

        async def loop() -> None:
            done = 0.0  # the last tick, in seconds from the origin
            while True:
                every = interval or self.reap_interval()
                elapsed = clock.monotonic() - origin
                tick = scheduler.next_tick(max(elapsed, done + every / 2), every)
                await asyncio.sleep(min(tick - elapsed, every))
                done = tick
                try:
                    await self.reclaim()
                except Exception:  # the next look tries again; a dead reaper would reclaim none
                    log.exception("keepwarm: reclaiming idle environments failed")

        self._reaper = asyncio.ensure_future(loop())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        pools = [*self.pools.values(), *self._retired]
        await asyncio.gather(*(p.close() for p in pools))
