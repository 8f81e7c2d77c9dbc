"""``FunctionPool``: the environments of one function version, and the policy applied to them.

It decides (through ``scheduler``) and asks environments to act; it never touches a process.
Its idle and reset views are derived from environment state changes, in most-recently-used
order, so picking an environment is O(1).
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from keepwarm.config import FunctionConfig
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.host import EnvHost
from keepwarm.env.spec import snapshot_key
from keepwarm.env.state import EnvState
from keepwarm.invocation import Invocation, InvocationResult
from keepwarm.pool import scheduler
from keepwarm.pool.scheduler import Action, EnvView, KeepAlivePolicy

Listener = Callable[[LocalEnvironment, EnvState, EnvState], None]


class FunctionPool:
    def __init__(
        self, config: FunctionConfig, host: EnvHost, listener: Listener | None = None
    ) -> None:
        self.config = config
        self.host = host
        self._env_config = _deployment(config)
        self.envs: dict[str, LocalEnvironment] = {}
        self.idle: OrderedDict[str, LocalEnvironment] = OrderedDict()
        self.idle_provisioned: OrderedDict[str, LocalEnvironment] = OrderedDict()
        self.reset: OrderedDict[str, LocalEnvironment] = OrderedDict()
        self.inflight = 0
        self.draining = False
        self._listener = listener
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
        self._emptied = asyncio.Event()

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
    def _on_state(self, env: LocalEnvironment, old: EnvState, new: EnvState) -> None:
        view = self.idle_provisioned if env.provisioned else self.idle
        view.pop(env.id, None)
        self.reset.pop(env.id, None)
        if new is EnvState.IDLE:
            if self._retire_now(env):
                self._spawn_task(env.shutdown())
            else:
                view[env.id] = env
        elif new is EnvState.RESET:
            if self.draining:
                self._spawn_task(env.shutdown())
            else:
                self.reset[env.id] = env
        elif new is EnvState.DEAD:
            self.envs.pop(env.id, None)
            if not self.envs:
                self._emptied.set()
        if self._listener is not None:
            self._listener(env, old, new)

    def _retire_now(self, env: LocalEnvironment) -> bool:
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

    def take(self, placement: scheduler.Placement) -> LocalEnvironment:
        if placement.action in (Action.WARM, Action.RESET) and placement.env_id is not None:
            return self.envs[placement.env_id]
        return self._create(provisioned=False)

    def _create(self, provisioned: bool) -> LocalEnvironment:
        env_id = secrets.token_hex(8)
        env = LocalEnvironment(env_id, self._env_config, self.host, self._on_state, provisioned)
        self.envs[env_id] = env
        return env

    async def run(self, env: LocalEnvironment, invocation: Invocation) -> InvocationResult:
        self.inflight += 1
        try:
            return await env.invoke(invocation)
        finally:
            self.inflight -= 1

    # -- provisioned concurrency, reclaim, drain -----------------------------------------------
    async def provision(self) -> None:
        alive = sum(
            1 for e in self.envs.values() if e.provisioned and e.state is not EnvState.STOPPING
        )
        missing = scheduler.provisioned_missing(self.config.provisioned_concurrency, alive)
        envs = [self._create(provisioned=True) for _ in range(missing)]
        await asyncio.gather(*(env.initialize() for env in envs))

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
        now = self.host.clock.monotonic()
        victims = scheduler.choose_reclaim(self.views(), now, self.policy)
        await asyncio.gather(*(_retire(self.envs[v]) for v in victims if v in self.envs))
        if victims and self.config.provisioned_concurrency and not self.draining:
            await self.provision()
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


async def _retire(env: LocalEnvironment) -> None:
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
