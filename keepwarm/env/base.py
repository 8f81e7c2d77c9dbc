"""``Environment``: what the pool asks of an execution environment, wherever it runs.

Why a protocol: the pool decides the same way for an environment that is a local process
(``LocalEnvironment``) and for one on another machine of a Ray cluster
(``keepwarm.cluster.RayEnvironment``); it only needs these few members.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from keepwarm.config import FunctionConfig
from keepwarm.env.host import EnvHost
from keepwarm.env.state import EnvState
from keepwarm.invocation import Invocation, InvocationResult


class StreamLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def path(self) -> Path: ...


class Environment(Protocol):
    id: str
    config: FunctionConfig
    provisioned: bool
    created: float
    last_used: float
    invocations: int
    orc_stats: dict[str, Any]

    @property
    def state(self) -> EnvState: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def tmp_path(self) -> str: ...

    @property
    def stream(self) -> StreamLike: ...

    async def initialize(self) -> bool: ...

    async def invoke(self, invocation: Invocation) -> InvocationResult: ...

    async def shutdown(self) -> None: ...


StateCallback = Callable[[Any, EnvState, EnvState], None]


class EnvFactory(Protocol):
    """Makes a pool's environments (``LocalEnvironment`` itself is one)."""

    def __call__(
        self,
        env_id: str,
        config: FunctionConfig,
        host: EnvHost,
        on_state: StateCallback,
        provisioned: bool = False,
    ) -> Environment: ...
