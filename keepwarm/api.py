"""The Python API: ``Runtime`` (blocking, thread-safe) and ``AsyncRuntime`` (asyncio).

Why two: tests, notebooks and the CLI want a blocking call; the HTTP server and the async queue
live on an event loop and must not block it. ``Runtime`` runs an ``AsyncRuntime`` on a private
event-loop thread, so both share one implementation.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from keepwarm.clock import Clock, SystemClock
from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.env.base import Environment
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.host import EnvHost
from keepwarm.env.state import EnvState
from keepwarm.errors import (
    SYNC_LIMIT,
    InvalidRequestContent,
    KeepwarmError,
    Throttled,
    too_large_sync,
)
from keepwarm.init_audit import snapshot_warnings
from keepwarm.invocation import Invocation, InvocationResult
from keepwarm.loop_driver import LoopDriver
from keepwarm.observe.metrics import Metrics
from keepwarm.pool.pool import FunctionPool, Listener
from keepwarm.pool.router import LATEST, Router

if TYPE_CHECKING:
    from keepwarm.cluster.nodes import RayCluster
    from keepwarm.template import BrokenFunction

T = TypeVar("T")
log = logging.getLogger("keepwarm")


def encode_event(event: Any) -> bytes:
    """An event as the payload bytes Lambda would receive (bytes pass through)."""
    if isinstance(event, bytes | bytearray):
        return bytes(event)
    try:
        return json.dumps(event).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidRequestContent(f"Could not serialise the event to JSON: {exc}") from exc


def _load(
    functions: Iterable[FunctionConfig] | None, template: str | Path | None
) -> tuple[list[FunctionConfig], dict[str, str], dict[str, BrokenFunction]]:
    """The functions, the template's logical ids that stand for a FunctionName, and its
    functions that cannot run by name: the others run, as ``sam local invoke`` runs them."""
    configs = list(functions or [])
    if template is None:
        return configs, {}, {}
    from keepwarm.template import read_template

    loaded = read_template(Path(template), keep_broken=True).usable()
    failed = {b.name or b.logical_id: b for b in loaded.broken}
    return configs + loaded.functions, dict(loaded.logical_ids), failed


def _cluster(server: ServerConfig) -> RayCluster | None:
    if server.backend != "ray":
        return None
    from keepwarm.cluster.nodes import RayCluster

    return RayCluster(server)


def _tee(first: Listener, second: Listener | None) -> Listener:
    """Metrics see every state change; the caller's listener, if any, sees it too."""
    if second is None:
        return first

    def both(env: Environment, old: EnvState, new: EnvState) -> None:
        first(env, old, new)
        second(env, old, new)

    return both


class AsyncRuntime:
    """Functions, their environments and the router, on the running event loop."""

    def __init__(
        self,
        functions: Iterable[FunctionConfig] | None = None,
        *,
        template: str | Path | None = None,
        server: ServerConfig | None = None,
        clock: Clock | None = None,
        reap_interval: float | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.server = server or ServerConfig()
        self.clock = clock or SystemClock()
        self._configs, self._logical_ids, self._failed = _load(functions, template)
        self._reap_interval = reap_interval
        self._listener = listener
        self.host = EnvHost(self.server, self.clock)
        self.metrics = Metrics()
        self.cluster = _cluster(self.server)
        self.router = Router(
            self.host,
            _tee(self.metrics.on_state, listener),
            self.cluster.environment if self.cluster else LocalEnvironment,
        )
        self._closed = False

    async def start(self) -> AsyncRuntime:
        if self.cluster is not None:  # environments run on the cluster's nodes, not here
            self.server.data_dir.mkdir(parents=True, exist_ok=True)
            await self.cluster.start()
        else:
            await self.host.start()
        for config in self._configs:
            await self.add(config)
        if self._reap_interval is None and isinstance(self.clock, SystemClock):
            self.router.start_reaper()  # following the functions' keep-alives
        elif self._reap_interval:
            self.router.start_reaper(self._reap_interval)
        return self

    async def __aenter__(self) -> AsyncRuntime:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def invoke(
        self,
        name: str,
        event: Any = None,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
    ) -> InvocationResult:
        """Invoke ``name`` with ``event`` (JSON-serialisable) and wait for its result.

        A caller that stops waiting (``asyncio.wait_for``, a cancelled task) does not stop the
        invocation: as on Lambda, it runs to its end, its environment is then reused, and it
        holds its concurrency until then. Cancelling it would strand the environment mid-run.
        """
        call = self.invoke_unshielded(
            name, event, qualifier=qualifier, client_context=client_context
        )
        return await asyncio.shield(call)

    async def invoke_unshielded(
        self,
        name: str,
        event: Any = None,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
    ) -> InvocationResult:
        """``invoke`` for callers that never cancel (the blocking ``Runtime``): one task less."""
        version = qualifier or LATEST
        pool = self.pool(name, version)
        arn = self.server.function_arn(pool.config.name, qualifier)
        payload = encode_event({} if event is None else event)
        if len(payload) > SYNC_LIMIT:
            raise too_large_sync()
        inv = Invocation(payload=payload, invoked_arn=arn, client_context=client_context)
        return await self.run(pool.config.name, inv, version)

    async def run(
        self, name: str, invocation: Invocation, version: str = LATEST
    ) -> InvocationResult:
        """Invoke a prepared ``Invocation``: the one path every caller (API, HTTP, async) takes,
        so that metrics see every invocation and throttle."""
        if self._closed:
            raise _closed_error()
        try:
            result = await self.router.invoke(name, invocation, version)
        except Throttled:
            self.metrics.throttled(name)
            raise
        self.metrics.record(result)
        return result

    async def add(self, config: FunctionConfig) -> FunctionPool:
        """Add or replace a function version (a replaced one drains)."""
        if self._closed:
            raise _closed_error()
        if config.snapshot:
            await self._warn_snapshot(config)
        pool = await self.router.add(config)
        self._failed.pop(config.name, None)  # a function of that name now runs
        return pool

    async def _warn_snapshot(self, config: FunctionConfig) -> None:
        drops = bool(getattr(self.host, "run_as", None))
        lines = await asyncio.to_thread(snapshot_warnings, config, drops)
        for line in lines:
            if line not in self.host.warnings:
                self.host.warnings.append(line)
                log.warning(line)

    async def reclaim(self) -> int:
        """Reclaim expired idle environments now; returns once the provisioned environments it
        stopped are replaced (their Init ran), which the reaper does not wait for."""
        if self._closed:
            raise _closed_error()
        count = await self.router.reclaim()
        await self.router.settled()
        return count

    def pool(self, name: str, version: str = LATEST) -> FunctionPool:
        """A function version's pool, by name or template logical id (as sam local takes);
        a template function that cannot run raises its reason (``BadFunction``)."""
        if (name, version) not in self.router.pools:
            if name not in self._failed:  # a FunctionName wins over a logical id
                name = self._logical_ids.get(name, name)
            if name in self._failed:
                raise self._failed[name].error()
        return self.router.pool(name, version)

    @property
    def warnings(self) -> list[str]:
        return list(self.host.warnings)

    @property
    def failed_functions(self) -> dict[str, str]:
        """The template's functions that cannot run, each name with the reason (as ``keepwarm
        serve`` gives it in StateReason); the template's other functions run."""
        return {name: broken.reason for name, broken in self._failed.items()}

    async def close(self) -> None:
        """Stop every environment and the fork server; the runtime cannot be used after."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.router.close()
        finally:
            if self.cluster is not None:
                await self.cluster.close()
            else:
                await self.host.close()


class Runtime:
    """Blocking facade over ``AsyncRuntime``; safe to call from many threads at once."""

    def __init__(
        self,
        functions: Iterable[FunctionConfig] | None = None,
        *,
        template: str | Path | None = None,
        server: ServerConfig | None = None,
        clock: Clock | None = None,
        reap_interval: float | None = None,
    ) -> None:
        self._driver = LoopDriver()
        try:
            self._async = self._call(self._build(functions, template, server, clock, reap_interval))
        except BaseException:  # a template refused: its loop thread must not outlive it
            self._driver.close()
            raise
        self._closed = False

    @staticmethod
    async def _build(*args: Any) -> AsyncRuntime:
        functions, template, server, clock, reap_interval = args
        return AsyncRuntime(
            functions, template=template, server=server, clock=clock, reap_interval=reap_interval
        )

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the runtime's loop, from this thread when it can (see LoopDriver)."""
        if self._driver.loop.is_closed():
            coro.close()
            raise _closed_error()
        return self._driver.call(coro)

    def start(self) -> Runtime:
        try:
            self._call(self._async.start())
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def invoke(self, name: str, event: Any = None, **kwargs: Any) -> InvocationResult:
        return self._call(self._async.invoke_unshielded(name, event, **kwargs))

    async def ainvoke(self, name: str, event: Any = None, **kwargs: Any) -> InvocationResult:
        """Awaitable from any event loop. Cancelling the await leaves the invocation running to
        its end (it runs on the runtime's own loop), as ``AsyncRuntime.invoke`` does."""
        if self._driver.loop.is_closed():
            raise _closed_error()
        return await asyncio.wrap_future(
            self._driver.submit(self._async.invoke_unshielded(name, event, **kwargs))
        )

    def add(self, config: FunctionConfig) -> None:
        self._call(self._async.add(config))

    def reclaim(self) -> int:
        """Reclaim expired idle environments now (with a ``FakeClock``, after ``advance``)."""
        return self._call(self._async.reclaim())

    def environments(self, name: str, version: str = LATEST) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            pool = self._async.pool(name, version)
            return [
                {
                    "id": e.id,
                    "state": e.state.value,
                    "provisioned": e.provisioned,
                    "invocations": e.invocations,
                    "pid": e.pid,
                    "tmp": e.tmp_path,
                    "log_stream": e.stream.name,
                    "log_path": str(e.stream.path),
                    "orc": dict(e.orc_stats),
                }
                for e in pool.envs.values()
            ]

        return self._call(read())

    @property
    def warnings(self) -> list[str]:
        return self._async.warnings

    @property
    def failed_functions(self) -> dict[str, str]:
        """See ``AsyncRuntime.failed_functions``."""
        return self._async.failed_functions

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self._call(self._async.close())
        finally:
            self._driver.close()


def _closed_error() -> KeepwarmError:
    return KeepwarmError("this Runtime is closed")
