"""``FunctionPool``: the environments of one function version, and the policy applied to them.

It decides (through ``scheduler``) and asks environments to act; it never touches a process.
Its idle and reset views are derived from environment state changes, in most-recently-used
order, so picking an environment is O(1). Provisioned concurrency is kept at its level from the
same state changes: a provisioned environment that stops is replaced, one whose process died is
initialised again, both in the background.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from keepwarm.config import FunctionConfig
from keepwarm.env.base import EnvFactory, Environment
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.host import EnvHost
from keepwarm.env.spec import snapshot_key
from keepwarm.env.state import EnvState
from keepwarm.errors import ServiceFailure
from keepwarm.invocation import Invocation, InvocationResult
from keepwarm.pool import scheduler
from keepwarm.pool.scheduler import Action, EnvView, KeepAlivePolicy

Listener = Callable[[Environment, EnvState, EnvState], None]


class FunctionPool:
    def __init__(
        self,
        config: FunctionConfig,
        host: EnvHost,
        listener: Listener | None = None,
        make_env: EnvFactory = LocalEnvironment,
    ) -> None:
        self.config = config
        self.host = host
        self._make_env = make_env
        self._env_config = _deployment(config)
        self.envs: dict[str, Environment] = {}
        self.idle: OrderedDict[str, Environment] = OrderedDict()
        self.idle_provisioned: OrderedDict[str, Environment] = OrderedDict()
        self.reset: OrderedDict[str, Environment] = OrderedDict()
        self.inflight = 0
        self.draining = False
        self._listener = listener
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
        self._emptied = asyncio.Event()
        self._unused: set[str] = set()  # provisioned, Init run in the background, not yet taken

    @property
    def policy(self) -> KeepAlivePolicy:
        server = self.host.server
        return KeepAlivePolicy(
            self.config.keep_alive_s
            if self.config.keep_alive_s is not None
            else server.keep_alive_s,
            self.config.max_lifetime_s
            if self.config.max_lifetime_s is not None
            else server.max_lifetime_s,
        )

    @property
    def reuse_mode(self) -> str:
        return self.config.reuse if self.config.reuse != "always" else self.host.server.reuse

    @property
    def max_invocations(self) -> int | None:
        return self.config.max_invocations_per_env or self.host.server.max_invocations_per_env

    # -- views derived from environment state --------------------------------------------------
    def _on_state(self, env: Environment, old: EnvState, new: EnvState) -> None:
        view = self.idle_provisioned if env.provisioned else self.idle
        view.pop(env.id, None)
        self.reset.pop(env.id, None)
        unused = env.id in self._unused
        self._unused.discard(env.id)
        if new is EnvState.IDLE:
            if self._retire_now(env):
                self._spawn_task(env.shutdown())
            else:
                view[env.id] = env
                if old is EnvState.INITIALIZING:  # Init ahead of any call (provisioned)
                    self._unused.add(env.id)
        elif new is EnvState.RESET:
            self._on_reset(env, old, unused)
        elif new is EnvState.STOPPING:
            if env.provisioned and not self.draining:
                self._spawn_task(self._replace())
        elif new is EnvState.DEAD:
            self.envs.pop(env.id, None)
            if not self.envs:
                self._emptied.set()
        if self._listener is not None:
            self._listener(env, old, new)

    def _on_reset(self, env: Environment, old: EnvState, unused: bool) -> None:
        """Its process is gone (a timeout, a crash, a failed Init)."""
        if self.draining:
            self._spawn_task(env.shutdown())
            return
        served = old is EnvState.BUSY or (old is EnvState.IDLE and not unused)
        if scheduler.reinit_now(env.provisioned, served):
            self._spawn_task(self._initialize(env))
        else:
            self.reset[env.id] = env

    def _retire_now(self, env: Environment) -> bool:
        if self.draining:
            return True
        if env.invocations == 0:
            return False
        return scheduler.should_retire(
            env.invocations, self.max_invocations, self.reuse_mode, self._rng.random()
        )

    def _spawn_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- placement -----------------------------------------------------------------------------
    def snapshot_parts(self) -> tuple[str | None, str | None, str | None]:
        mru = scheduler.mru
        return mru(self.idle_provisioned), mru(self.idle), mru(self.reset)

    def take(self, placement: scheduler.Placement) -> Environment:
        if placement.action in (Action.WARM, Action.RESET) and placement.env_id is not None:
            return self.envs[placement.env_id]
        return self._create(provisioned=False)

    def _create(self, provisioned: bool) -> Environment:
        env_id = secrets.token_hex(8)
        env = self._make_env(env_id, self._env_config, self.host, self._on_state, provisioned)
        self.envs[env_id] = env
        return env

    async def run(self, env: Environment, invocation: Invocation) -> InvocationResult:
        self.inflight += 1
        try:
            return await env.invoke(invocation)
        finally:
            self.inflight -= 1

    # -- provisioned concurrency, reclaim, drain -----------------------------------------------
    async def provision(self) -> None:
        """Start the missing provisioned environments and wait for their Init (before traffic)."""
        alive = sum(
            1 for e in self.envs.values() if e.provisioned and e.state is not EnvState.STOPPING
        )
        missing = scheduler.provisioned_missing(self.config.provisioned_concurrency, alive)
        envs = [self._create(provisioned=True) for _ in range(missing)]
        await asyncio.gather(*(env.initialize() for env in envs))

    async def _replace(self) -> None:
        """A provisioned environment in place of one that stopped. Created here, not when the
        other stopped, so that a pool that began to drain or close meanwhile starts nothing;
        once created it is in ``envs``, which ``close`` stops."""
        if not self.draining:
            await self._initialize(self._create(provisioned=True))

    async def _initialize(self, env: Environment) -> None:
        """Init a provisioned environment in the background: placements see it once Init ran.
        One stopped meanwhile (the pool closing) just ends."""
        if self.draining or env.state not in (EnvState.NEW, EnvState.RESET):
            return
        try:
            await env.initialize()
        except ServiceFailure:
            if env.state not in (EnvState.STOPPING, EnvState.DEAD):
                raise

    async def settled(self) -> None:
        """Until what the pool started in the background is done: retired environments stopped,
        provisioned ones replaced or initialised again."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def views(self) -> list[EnvView]:
        return [
            EnvView(
                e.id,
                e.state in (EnvState.IDLE, EnvState.RESET),  # a reset one holds a log fd, /tmp
                e.provisioned,
                e.created,
                e.last_used,
                e.invocations,
            )
            for e in self.envs.values()
        ]

    async def reclaim(self) -> int:
        """Stop the expired idle environments (a provisioned one's replacement starts as it
        stops; the reaper does not wait for its Init)."""
        now = self.host.clock.monotonic()
        victims = scheduler.choose_reclaim(self.views(), now, self.policy)
        await asyncio.gather(*(_retire(self.envs[v]) for v in victims if v in self.envs))
        return len(victims)

    async def drain(self) -> None:
        """Stop taking work; idle environments stop now, busy ones when they finish."""
        self.draining = True
        stoppable = [
            e
            for e in self.envs.values()
            if e.state in (EnvState.IDLE, EnvState.RESET, EnvState.NEW)
        ]
        await asyncio.gather(*(e.shutdown() for e in stoppable))

    async def drained(self) -> None:
        """Until every environment of this (draining) pool is gone: then nothing runs its code
        any more, and the registry may remove it."""
        while self.envs:
            self._emptied.clear()
            await self._emptied.wait()

    @property
    def snapshot_key(self) -> str | None:
        """The snapshot template this deployment's environments fork from, if any."""
        return snapshot_key(self._env_config) if self._env_config.snapshot else None

    async def close(self) -> None:
        self.draining = True
        await asyncio.gather(*(e.shutdown() for e in list(self.envs.values())))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _retire(env: Environment) -> None:
    """Stop a reclaim victim unless an invocation took it since the decision (gather starts
    its tasks a loop turn later; the check and the move to STOPPING happen in one step)."""
    if env.state in (EnvState.IDLE, EnvState.RESET):
        await env.shutdown()


def _deployment(config: FunctionConfig) -> FunctionConfig:
    """The config its environments get: for a snapshot function, one whose template is this
    deployment's own. Lambda runs Init anew for every deployment, and a template made before
    a redeploy holds the old code and settings (a module edited on disk and added again, a
    new memory size that Init read)."""
    if not config.snapshot:
        return config
    return config.with_changes(revision=f"{config.revision}#{secrets.token_hex(4)}")
