"""``RayCluster``: the server's view of the Ray cluster: one ``NodeAgent`` per live node.

Why one agent per node rather than an actor per environment: a Ray worker process costs
about a hundred megabytes and a second to start, an environment forked on the node a few
megabytes and milliseconds. Agents take no CPU from Ray's accounting (``num_cpus=0``); each is
pinned to its node, and new environments go to the node with the fewest, so concurrent
invocations spread over the machines. The node list is read every few seconds: a node that
joins gets an agent, one that leaves takes its environments with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm import errors
from keepwarm.cluster import code
from keepwarm.cluster.agent import NodeAgent
from keepwarm.cluster.code import CodePackage
from keepwarm.cluster.remote_env import RayEnvironment, StateCallback
from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.env.host import EnvHost

log = logging.getLogger("keepwarm")
REFRESH_S = 5.0  # how often the node list is read (nodes that joined or left)
CALL_MARGIN_S = 30.0  # beyond an environment's own deadlines, before a node counts as lost
REACH_TIMEOUT_S = 5.0


def joined_address(address: str | None) -> str | None:
    """The cluster ``ray.init`` would join: ``RAY_ADDRESS`` stands in for none or ``auto``, as
    Ray reads it; None means a Ray instance of keepwarm's own."""
    if address in (None, "auto") and os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    return address


def check_reachable(address: str | None) -> None:
    """Fail fast on a cluster address nothing answers at: ``ray.init`` would retry for minutes.

    Only ``host:port`` (and ``ray://host:port``) can be tried; ``auto`` is left to Ray."""
    if not address or ("://" in address and not address.startswith("ray://")):
        return
    where = address.removeprefix("ray://")
    host, sep, port = where.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), REACH_TIMEOUT_S).close()
    except OSError as exc:
        raise ConnectionError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from None


def _not_main_thread_notice(record: logging.LogRecord) -> bool:
    """Ray says it set no SIGTERM handler off the main thread: keepwarm connects from another
    thread on purpose, so that the server's own SIGTERM handling (a graceful stop) stays."""
    return "SIGTERM handler is not set" not in record.getMessage()


@dataclass(eq=False)
class AgentSlot:
    """One node's agent, and the environments the server placed there."""

    node_id: str
    handle: Any
    members: set[RayEnvironment] = field(default_factory=set)
    lost: bool = False

    async def call(self, method: str, budget: float, *args: Any) -> Any:
        import ray.exceptions

        try:
            ref = getattr(self.handle, method).remote(*args)
            return await asyncio.wait_for(ref, budget + CALL_MARGIN_S)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, errors.ServiceFailure):
                raise errors.ServiceFailure(str(cause)) from None
            raise errors.ServiceFailure(
                f"keepwarm's agent on node {self.node_id}: {cause}"
            ) from exc
        except (ray.exceptions.RayError, TimeoutError) as exc:
            self.mark_lost()
            raise errors.ServiceFailure(
                f"The Ray node {self.node_id} running this environment is gone "
                f"({exc.__class__.__name__})."
            ) from exc

    def mark_lost(self) -> None:
        """The node is gone: so are its environments; the waiting ones end now, the busy
        ones as their call fails."""
        self.lost = True
        for env in list(self.members):
            env.node_lost()


@dataclass
class RayCluster:
    server: ServerConfig
    slots: dict[str, AgentSlot] = field(default_factory=dict)
    _owns_ray: bool = False
    _watcher: asyncio.Task[None] | None = None
    _refused: set[str] = field(default_factory=set)
    _discards: set[asyncio.Future[None]] = field(default_factory=set)
    _actor: Any = None
    _packages: dict[tuple[Path, str], CodePackage] = field(default_factory=dict)

    async def start(self) -> None:
        await asyncio.to_thread(self._connect)
        await self._look()
        if not self._live():
            raise RuntimeError("the Ray cluster has no live node")
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Nodes that joined get an agent, and the environments of nodes that left are
        dropped, within ``REFRESH_S``: a call routed to a node known gone would fail."""
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self._look()
            except Exception:  # a GCS hiccup: the next look may work
                log.warning("keepwarm: could not read the Ray cluster's nodes", exc_info=True)

    async def _look(self) -> None:
        import ray

        nodes = await asyncio.to_thread(ray.nodes)
        started = self._apply(nodes)
        await asyncio.gather(*(self._start_agent(slot) for slot in started))

    async def _start_agent(self, slot: AgentSlot) -> None:
        try:
            warnings: list[str] = await slot.call("start", 60.0)
        except errors.ServiceFailure as exc:
            log.warning("keepwarm: Ray node %s cannot run environments: %s", slot.node_id, exc)
            self._refused.add(slot.node_id)  # not asked again while the server runs
            slot.mark_lost()
            _kill(slot.handle)
            return
        for line in warnings:
            log.warning("keepwarm: on Ray node %s: %s", slot.node_id[:12], line)

    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        address = joined_address(self.server.ray_address)
        check_reachable(address)
        if address is None:  # a single-machine instance of its own: no usage statistics sent
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # SIGTERM is the server's graceful stop, not a crash to print a stack trace for.
        os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
        logging.getLogger("ray._private.worker").addFilter(_not_main_thread_notice)
        try:
            ray.init(
                address=address,
                _node_ip_address="127.0.0.1" if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                namespace="keepwarm",
            )
        except ConnectionError as exc:
            raise ConnectionError(
                f"cannot join the Ray cluster at {address}: {str(exc).split('. ')[0]}. Start "
                "one with `ray start --head`, or give --ray-address HOST:PORT."
            ) from None
        self._owns_ray = True

    def _apply(self, nodes: list[dict[str, Any]]) -> list[AgentSlot]:
        """Agents for live nodes without one; returns them (not started yet)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor = self._agent_class()
        started = []
        for node in nodes:
            node_id = node["NodeID"]
            known = self.slots.get(node_id)
            if not node["Alive"] and known is not None and not known.lost:
                known.mark_lost()
            if node["Alive"] and (known is None or known.lost) and node_id not in self._refused:
                if known is not None:  # its node is back, or only a call timed out: a new agent
                    _kill(known.handle)
                handle = actor.options(
                    num_cpus=0,
                    max_concurrency=10_000,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                ).remote(self.server)
                self.slots[node_id] = AgentSlot(node_id, handle)
                started.append(self.slots[node_id])
        return started

    def _agent_class(self) -> Any:
        """``NodeAgent`` as a Ray actor class, made once (the watcher looks every few seconds)."""
        import ray

        if self._actor is None:
            self._actor = ray.remote(NodeAgent)
        return self._actor

    def place(self) -> AgentSlot:
        """The live node with the fewest environments."""
        live = self._live()
        if not live:
            raise errors.ServiceFailure("The Ray cluster has no live node to run an environment.")
        return min(live, key=lambda s: len(s.members))

    def describe(self) -> str:
        nodes = f"{len(self._live())} node{'s' if len(self._live()) != 1 else ''}"
        address = joined_address(self.server.ray_address)
        if self._owns_ray and address is None:
            return f"a Ray instance of their own on this machine ({nodes})"
        return f"the Ray cluster at {address or 'this driver'} ({nodes})"

    def _live(self) -> list[AgentSlot]:
        return [s for s in self.slots.values() if not s.lost]

    def environment(
        self,
        env_id: str,
        config: FunctionConfig,
        host: EnvHost,
        on_state: StateCallback,
        provisioned: bool = False,
    ) -> RayEnvironment:
        return RayEnvironment(env_id, config, host, on_state, provisioned, self)

    def discard(self, slot: AgentSlot, env_id: str) -> None:
        """Stop an environment on its node without waiting (its last call failed)."""
        task = asyncio.ensure_future(_quietly(slot.call("shutdown", 60.0, env_id)))
        self._discards.add(task)
        task.add_done_callback(self._discards.discard)

    async def package(self, root: Path) -> CodePackage:
        """A function's code or a layer's content as it is on disk now (packed again only
        when it changed)."""
        mark = await asyncio.to_thread(code.fingerprint, root)
        key = (root, mark)
        if key not in self._packages:
            import ray

            data = await asyncio.to_thread(code.pack, root)
            digest = hashlib.sha256(data).hexdigest()[:32]
            self._packages[key] = CodePackage(digest, (ray.put(data),))
        return self._packages[key]

    async def close(self) -> None:
        import ray

        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await asyncio.gather(*self._discards)

        live = self._live()
        results = await asyncio.gather(
            *(asyncio.wait_for(s.handle.close.remote(), 60) for s in live),
            return_exceptions=True,
        )
        for slot, result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                log.warning(
                    "keepwarm: the agent on Ray node %s did not close: %s", slot.node_id, result
                )
            _kill(slot.handle)
        self.slots.clear()
        if self._owns_ray:
            await asyncio.to_thread(ray.shutdown)


async def _quietly(call: Coroutine[Any, Any, Any]) -> None:
    with contextlib.suppress(errors.ServiceFailure):
        await call


def _kill(handle: Any) -> None:
    """End an agent the server gave up on, with whatever environments it still runs."""
    import ray

    with contextlib.suppress(Exception):  # already dead with its node
        ray.kill(handle)
