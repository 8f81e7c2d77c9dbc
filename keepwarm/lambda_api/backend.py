"""Everything a serving process runs, started and stopped in order on uvicorn's event loop.

Why an object: the lifespan starts the runtime, the registry (stored and template functions),
the async dispatcher and the watcher, and must stop them in the reverse order so that no
environment and no child process outlives the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from keepwarm.api import AsyncRuntime
from keepwarm.asyncq.dispatcher import Dispatcher
from keepwarm.asyncq.policy import RetryPolicy
from keepwarm.asyncq.store import EventStore
from keepwarm.config import ServerConfig
from keepwarm.lambda_api.endpoint import endpoint
from keepwarm.registry.invoker import Invoker
from keepwarm.registry.service import FunctionService
from keepwarm.registry.store import FunctionStore

if TYPE_CHECKING:
    from keepwarm.template import Template

log = logging.getLogger("keepwarm.serve")


@dataclass(frozen=True)
class ServeOptions:
    data_dir: Path = Path(".keepwarm")
    template: Path | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)  # --parameter-overrides
    keep_alive_s: float | None = None
    watch: bool = False
    host: str = "127.0.0.1"
    port: int = 9001
    insecure: bool = False
    activation_delay_s: float = 0.0
    async_time_scale: float | None = None
    async_concurrency: int = 64  # async events running at once (shared fairly by function)
    shutdown_timeout_s: float = 30.0
    persist: bool = True
    auth: str = "none"  # "none" | "sigv4" (keys from ``credentials``; see lambda_api.auth)
    credentials: Path | None = None
    check_leaks: bool = False
    reuse: str = "always"
    max_invocations_per_env: int | None = None
    host_packages: bool = False
    backend: str = "local"  # "ray": environments on a Ray cluster's nodes
    ray_address: str | None = None

    def server_config(self) -> ServerConfig:
        config = ServerConfig(
            data_dir=self.data_dir,
            backend=self.backend,
            ray_address=self.ray_address,
            check_leaks=self.check_leaks,
            reuse=self.reuse,
            max_invocations_per_env=self.max_invocations_per_env,
            host_packages=self.host_packages,
        )
        if self.keep_alive_s is None:
            return config
        return dataclasses.replace(config, keep_alive_s=self.keep_alive_s)


class Backend:
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.runtime = AsyncRuntime(server=options.server_config())
        self.service: FunctionService
        self.dispatcher: Dispatcher
        self.invoker: Invoker
        self.shutting_down = False
        self._watch_task: asyncio.Task[None] | None = None
        self._watch_stop = asyncio.Event()

    def template(self) -> Template:
        """The template (``options.template``) with ``--parameter-overrides``, the functions
        that cannot run among them (served as Failed): the one loader of start-up and of
        every ``--watch`` reload, which print its warnings."""
        from keepwarm._cfn import template_file
        from keepwarm.template import read_template

        assert self.options.template is not None  # called only when serving one
        return read_template(
            template_file(self.options.template),
            parameters=self.options.parameters,
            keep_broken=True,
        )

    async def start(self) -> None:
        data = self.options.data_dir
        data.mkdir(parents=True, exist_ok=True)
        template = self.template() if self.options.template is not None else None
        await self.runtime.start()
        store = FunctionStore(data / "registry.db") if self.options.persist else None
        self.service = FunctionService(
            self.runtime, store, activation_delay_s=self.options.activation_delay_s
        )
        self.service.public_url = endpoint(self.options.host, self.options.port)
        if template is None:
            await self.service.load([])
        else:
            template.log_warnings()
            await self.service.load(template.functions, template.broken, template.layers)
        await self.service.load_urls(template.urls if template is not None else ())
        policy = RetryPolicy.from_env(self.options.async_time_scale)
        self.dispatcher = Dispatcher(
            EventStore(data / "events.db"), self.service, policy, self.options.async_concurrency
        )
        await self.dispatcher.start()
        self.invoker = Invoker(self.service, self.dispatcher)
        if self.options.watch and self.options.template is not None:
            from keepwarm.registry.watch import watch_template

            self._watch_task = asyncio.ensure_future(
                watch_template(self.options.template, self.template, self.service, self._watch_stop)
            )

    async def close(self) -> None:
        self.shutting_down = True
        if self._watch_task is not None:
            self._watch_stop.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._watch_task, 5)
        with contextlib.suppress(AttributeError):
            await self.dispatcher.close(self.options.shutdown_timeout_s)
        with contextlib.suppress(AttributeError):
            await self.service.close()
        await self.runtime.close()
