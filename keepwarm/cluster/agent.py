"""``NodeAgent``: runs, on one machine of the cluster, the environments the server placed there.

Why environments stay ``LocalEnvironment`` here: Init, deadlines, memory limits, crash handling
and Lambda's log lines are then the very code a local server runs, on the node that runs the
process. The agent decides nothing: the server's pool says which environment to initialise,
invoke or stop. Each reply carries what the environment's log stream gained, so the server's
data dir holds every stream (``keepwarm logs`` works from there), and the environment's state
afterwards, which the server's mirror takes on.

It imports nothing from Ray: ``RayCluster`` makes it an actor, and tests can drive it directly.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from keepwarm.cluster.code import CodePackage, CodeStore
from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.env import owner
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.host import EnvHost
from keepwarm.env.state import EnvState
from keepwarm.invocation import Invocation, InvocationResult

NODES_DIR = "keepwarm-nodes"
# What an environment's first call carries: the definition, its code and its layers' content.
Deployment = tuple[FunctionConfig, CodePackage, tuple[CodePackage, ...]]


@dataclass(frozen=True)
class Reply:
    state: EnvState
    stream: str  # the log stream's file, relative to the log root
    logs: bytes  # what the stream gained since the last reply
    result: InvocationResult | None = None
    ready: bool = False
    pid: int | None = None
    tmp: str = ""
    orc: dict[str, Any] = field(default_factory=dict)


def nodes_root() -> Path:
    return Path(tempfile.gettempdir()) / NODES_DIR


class NodeAgent:
    def __init__(self, server: ServerConfig) -> None:
        parent = nodes_root()
        parent.mkdir(mode=0o755, exist_ok=True)
        owner.sweep_dirs(parent)  # what agents of dead servers left on this node
        self.root = parent / owner.server_tag()
        self.root.mkdir(mode=0o755)
        self.server = replace(server, data_dir=self.root / "data", backend="local")
        self.code = CodeStore(self.root / "code")
        self.envs: dict[str, LocalEnvironment] = {}
        self._streams: dict[str, BinaryIO] = {}  # each at what the last reply carried
        self._host: EnvHost | None = None
        self._starting: asyncio.Lock | None = None

    async def start(self) -> list[str]:
        """Start the node's fork server before the first cold start needs it; returns what
        the node's isolation lacks, for the server to say."""
        return list((await self._ready_host()).warnings)

    async def _ready_host(self) -> EnvHost:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._host is None:
                host = EnvHost(self.server)
                await host.start()
                self._host = host
        return self._host

    async def _env(
        self, env_id: str, first: Deployment | None, provisioned: bool
    ) -> LocalEnvironment:
        env = self.envs.get(env_id)
        if env is None:
            if first is None:  # a bug in the server: the first call carries the definition
                raise RuntimeError(f"environment {env_id} is not on this node")
            config, code, layers = first
            host = await self._ready_host()
            local = config.with_changes(
                code_dir=await self.code.path(code),
                layer_dirs=tuple([await self.code.path(layer) for layer in layers]),
            )
            env = LocalEnvironment(env_id, local, host, _ignore, provisioned)
            self.envs[env_id] = env
        return env

    async def initialize(self, env_id: str, first: Deployment | None, provisioned: bool) -> Reply:
        env = await self._env(env_id, first, provisioned)
        return self._reply(env, ready=await env.initialize())

    async def invoke(
        self,
        env_id: str,
        first: Deployment | None,
        provisioned: bool,
        invocation: Invocation,
    ) -> Reply:
        env = await self._env(env_id, first, provisioned)
        return self._reply(env, result=await env.invoke(invocation))

    async def shutdown(self, env_id: str) -> Reply | None:
        env = self.envs.get(env_id)
        if env is None:
            return None
        await env.shutdown()
        reply = self._reply(env)
        del self.envs[env_id]
        self._streams.pop(env_id).close()
        env.stream.path.unlink(missing_ok=True)  # the server holds its copy
        return reply

    def _reply(self, env: LocalEnvironment, **outcome: Any) -> Reply:
        env.stream.flush()
        if env.id not in self._streams:
            self._streams[env.id] = open(env.stream.path, "rb")  # noqa: SIM115
        data = self._streams[env.id].read()
        rel = str(env.stream.path.relative_to(env.host.log_root))
        return Reply(
            env.state, rel, data, pid=env.pid, tmp=env.tmp_path, orc=dict(env.orc_stats), **outcome
        )

    async def close(self) -> None:
        await asyncio.gather(*(env.shutdown() for env in self.envs.values()))
        self.envs.clear()
        for stream in self._streams.values():
            stream.close()
        if self._host is not None:
            await self._host.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _ignore(*_: object) -> None:
    """The agent follows no state change: the server asks, and reads the state in each reply."""
