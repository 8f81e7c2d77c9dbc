"""Shared state of the control plane: the records, their store and the runtime's router.

Why one base: functions, versions/aliases and settings are separate modules (each readable on
its own) but must see one set of records and apply changes to the router the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keepwarm.api import AsyncRuntime
from keepwarm.config import ServerConfig
from keepwarm.errors import FunctionNotFound, ResourceConflict
from keepwarm.registry.layers import LayerRegistry
from keepwarm.registry.model import (
    FAILED,
    LATEST,
    FunctionRecord,
    FunctionSpec,
    api_settings,
    configuration,
)
from keepwarm.registry.names import FunctionRef, is_version
from keepwarm.registry.store import FunctionStore

log = logging.getLogger("keepwarm.registry")


@dataclass(frozen=True)
class Target:
    """What an invocation of a (possibly qualified) function name resolves to."""

    record: FunctionRecord
    spec: FunctionSpec
    invoked_arn: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version


class RegistryBase:
    def __init__(
        self,
        runtime: AsyncRuntime,
        store: FunctionStore | None,
        *,
        activation_delay_s: float = 0.0,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.records: dict[str, FunctionRecord] = {}
        self.shadowed: dict[str, FunctionRecord] = {}  # API functions a template function hides
        self.activation_delay_s = activation_delay_s
        self.public_url = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
        self.code_lock = asyncio.Lock()  # snapshots made or removed, one at a time
        self.layers = LayerRegistry(runtime.server, store.layers if store is not None else None)

    @property
    def server(self) -> ServerConfig:
        return self.runtime.server

    @property
    def code_root(self) -> Path:
        return self.server.data_dir / "code"

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return self.server.function_arn(name, qualifier)

    def shape(self, spec: FunctionSpec, **options: Any) -> dict[str, Any]:
        """``spec``'s FunctionConfiguration (``model.configuration``), with the size of each
        layer keepwarm holds."""
        sizes = self.layers.sizes(spec.layers)
        return configuration(spec, self.server, layer_sizes=sizes, **options)

    # -- lookup --------------------------------------------------------------------------------
    def record(self, name: str, qualifier: str | None = None) -> FunctionRecord:
        rec = self.records.get(name)
        if rec is None:
            raise FunctionNotFound(self.arn(name, qualifier))
        return rec

    def spec_for(self, ref: FunctionRef) -> FunctionSpec:
        """A version's spec for reads (GetFunction etc.): ``$LATEST``, a number or an alias."""
        rec = self.record(ref.name, ref.qualifier)
        qualifier = ref.qualifier or LATEST
        alias = rec.aliases.get(qualifier)
        version = alias.function_version if alias is not None else qualifier
        spec = rec.spec(version)
        if spec is None:
            raise FunctionNotFound(self.arn(ref.name, qualifier))
        return spec

    def target(self, ref: FunctionRef) -> Target:
        """Resolve for Invoke: ``$LATEST`` by default, an alias through its (weighted) routing."""
        qualifier = ref.qualifier or LATEST
        rec = self.records.get(ref.name)
        if rec is None:
            raise FunctionNotFound(self.arn(ref.name, qualifier))
        if rec.state != "Active":
            raise not_active(rec)
        version = qualifier
        if qualifier != LATEST and not is_version(qualifier):
            alias = rec.aliases.get(qualifier)
            if alias is None:
                raise FunctionNotFound(self.arn(ref.name, qualifier))
            version = self._route(alias.function_version, alias.weights)
        spec = rec.spec(version)
        if spec is None:
            raise FunctionNotFound(self.arn(ref.name, qualifier))
        return Target(rec, spec, self.arn(ref.name, ref.qualifier))

    def _route(self, primary: str, weights: dict[str, float]) -> str:
        coin = self._rng.random()
        for version, weight in weights.items():
            if coin < weight:
                return version
            coin -= weight
        return primary

    # -- effects -------------------------------------------------------------------------------
    async def persist(self, record: FunctionRecord) -> None:
        """Write ``record`` (unless it was deleted or replaced meanwhile: a slow publish must
        not bring back what DeleteFunction removed)."""
        if self.store is None or self.records.get(record.name) is not record:
            return
        if record.origin == "api":
            await self.store.save(record)
        else:
            await self.store.save_settings(record.name, api_settings(record))

    async def deploy(self, record: FunctionRecord, spec: FunctionSpec) -> None:
        """Make ``spec`` what new invocations get; the replaced pool drains (no kill mid-call)."""
        await self.runtime.add(spec.to_config(record.reserved))

    async def deploy_all(self, record: FunctionRecord) -> None:
        """Every version of ``record``; a Failed function has no environments to deploy."""
        if record.state == FAILED:
            return
        for spec in (record.latest, *record.versions.values()):
            await self.deploy(record, spec)

    def shadow(self, name: str) -> None:
        """A template function named like a stored API function is served in its place; the
        API function is kept aside, code and all, and comes back when the template no longer
        defines the name (it used to be deleted: its code at once, its record never)."""
        prior = self.records.get(name)
        if prior is not None and prior.origin == "api":
            self.shadowed[name] = prior
            log.warning("keepwarm: template function %s shadows an API function", name)

    def settle(self, record: FunctionRecord) -> None:
        """Pending → Active and InProgress → Successful, now or after the configured delay."""
        if self.activation_delay_s <= 0:
            record.state, record.last_update_status = "Active", "Successful"
            return

        async def later() -> None:
            await asyncio.sleep(self.activation_delay_s)
            if self.records.get(record.name) is record:
                record.state, record.last_update_status = "Active", "Successful"
                await self.persist(record)

        task = asyncio.ensure_future(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.store is not None:
            self.store.close()


def not_active(record: FunctionRecord) -> ResourceConflict:
    """What Lambda answers an invocation or an update of a function that is not Active (409, its
    words); for a Failed one keepwarm adds the StateReason, so the caller learns why."""
    message = (
        "The operation cannot be performed at this time. The function is currently in the "
        f"following state: {record.state}"
    )
    if record.state_reason is not None:
        message += f". StateReason: {record.state_reason[0]}"
    return ResourceConflict(message)
