"""``RayEnvironment``: the server's side of an environment that runs on a cluster node.

Why a mirror with its own state: the pool reads and changes environment state synchronously
(placement moves IDLE to BUSY before any await), and a remote call cannot answer that. The mirror
moves by the same transition table before each call and takes on the node's state after it; the
process, its deadlines and its log lines belong to the node's ``LocalEnvironment``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keepwarm import errors
from keepwarm.cluster.agent import Deployment, Reply
from keepwarm.config import FunctionConfig
from keepwarm.env.host import EnvHost
from keepwarm.env.state import EnvState, check_transition
from keepwarm.invocation import Invocation, InvocationResult

if TYPE_CHECKING:
    from keepwarm.cluster.nodes import AgentSlot, RayCluster

_GONE = (EnvState.STOPPING, EnvState.DEAD)
StateCallback = Callable[[Any, EnvState, EnvState], None]


class MirrorStream:
    """The server's copy of a node's log stream, appended from each reply (one descriptor for
    the environment's life, as ``LogStream`` holds one)."""

    def __init__(self, log_root: Path) -> None:
        self._root = log_root
        self.path = log_root
        self.name = ""
        self._fd = -1  # -2: closed for good (the environment ended)

    def append(self, reply: Reply) -> None:
        if not reply.logs or self._fd == -2:
            return
        if self._fd < 0:
            self.path = self._root / reply.stream
            self.name = self.path.name
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.write(self._fd, reply.logs)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -2


class RayEnvironment:
    def __init__(
        self,
        env_id: str,
        config: FunctionConfig,
        host: EnvHost,
        on_state: StateCallback,
        provisioned: bool,
        cluster: RayCluster,
    ) -> None:
        self.id = env_id
        self.config = config
        self.host = host
        self.provisioned = provisioned
        self.state = EnvState.NEW
        self.created = self.last_used = host.clock.monotonic()
        self.invocations = 0
        self.orc_stats: dict[str, Any] = {}
        self.stream = MirrorStream(host.log_root)
        self.pid: int | None = None
        self.tmp_path = ""
        self._on_state = on_state
        self._cluster = cluster
        self._on_node = False
        self.slot: AgentSlot = cluster.place()
        self.slot.members.add(self)

    def _to(self, target: EnvState) -> None:
        if self.state in _GONE and target is not EnvState.DEAD:
            raise self._stopped()
        check_transition(self.state, target)
        old, self.state = self.state, target
        self._on_state(self, old, target)

    def _in(self, state: EnvState) -> bool:
        return self.state is state

    def _stopped(self) -> errors.ServiceFailure:
        return errors.stopped_under_call(self.id)

    async def initialize(self) -> bool:
        self._to(EnvState.INITIALIZING)
        reply = await self._call("initialize")
        self._settle(reply)
        return reply.ready

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        if self.state is EnvState.IDLE:
            self._to(EnvState.BUSY)
        elif self.state in (EnvState.NEW, EnvState.RESET):
            self._to(EnvState.INITIALIZING)
        else:
            raise errors.not_available(self.id, self.state.value)
        reply = await self._call("invoke", invocation)
        if self._in(EnvState.INITIALIZING):  # Init ran, then the invocation, on the node
            self._to(EnvState.BUSY)
        assert reply.result is not None
        self.invocations += 1
        self._settle(reply)
        return reply.result

    async def _deployment(self) -> Deployment:
        package = self._cluster.package
        layers = tuple([await package(d) for d in self.config.layer_dirs])
        return self.config, await package(self.config.code_dir), layers

    async def _call(self, method: str, *args: Any) -> Reply:
        """One call to the node; one that fails ends this environment. The definition and the
        code go with the first call only: the node keeps the environment after it."""
        first = None if self._on_node else await self._deployment()
        budget = self.config.timeout_s + self.host.server.init_timeout_s
        try:
            reply: Reply = await self.slot.call(
                method, budget, self.id, first, self.provisioned, *args
            )
            self._on_node = True
            return reply
        except errors.ServiceFailure:
            if not self.slot.lost and self.state not in _GONE:  # its node stops it, unwaited
                self._cluster.discard(self.slot, self.id)
            self._end()  # the pool must not wait for, or reuse, an environment in doubt
            raise

    def _settle(self, reply: Reply) -> None:
        self.stream.append(reply)
        self.pid, self.tmp_path, self.orc_stats = reply.pid, reply.tmp, reply.orc
        self.last_used = self.host.clock.monotonic()
        if self.state in _GONE:
            raise self._stopped()
        if reply.state in (EnvState.IDLE, EnvState.RESET):
            self._to(reply.state)
        else:  # stopped on the node (its agent closing)
            self._end()
            raise self._stopped()

    def node_lost(self) -> None:
        """Its node is gone, and the environment with it. A call still waiting on it fails
        with ``ServiceException``, as a Lambda invocation whose host fails mid-call does."""
        self._end()

    def _end(self) -> None:
        if self.state not in _GONE:
            self._to(EnvState.STOPPING)
        if self.state is EnvState.STOPPING:
            self.stream.close()
            self._to(EnvState.DEAD)
            self.slot.members.discard(self)

    async def shutdown(self) -> None:
        if self.state in _GONE:
            return
        self._to(EnvState.STOPPING)
        try:
            reply = await self.slot.call("shutdown", 60.0, self.id)
            if reply is not None:
                self.stream.append(reply)
        except errors.ServiceFailure:
            pass  # its node is gone, and the environment with it
        self._end()
