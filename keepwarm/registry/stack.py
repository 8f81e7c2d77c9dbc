"""What deploying the template does to its functions, at start-up and at each --watch reload.

Why apart from the API's operations: a template function is a resource of a stack that SAM
deploys, and keepwarm does what that deploy would. Its ``$LATEST`` is built again from the
template, keeping its RevisionId when nothing changed (see ``FunctionSpec.revised_from``).
``AutoPublishAlias`` publishes a version when the code or configuration changed and points
the alias at it; the alias is a stack resource (``<LogicalId>Alias<Name>``), so renaming it
replaces it and removing ``AutoPublishAlias`` deletes it, while the versions stay (SAM retains
them). Only the alias the template made is the stack's: ``template_alias`` remembers which
one, across restarts, and an alias the API created is never touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keepwarm.config import FunctionConfig, LayerConfig
from keepwarm.registry.base import log
from keepwarm.registry.functions import FunctionOps
from keepwarm.registry.layers import drop_lost_layers, used_layer_dirs
from keepwarm.registry.model import (
    Alias,
    FunctionRecord,
    FunctionSpec,
    api_settings,
    apply_settings,
)
from keepwarm.registry.records import failed_record, template_record

if TYPE_CHECKING:
    from keepwarm.template import BrokenFunction


class StackOps(FunctionOps):
    async def load(
        self,
        templates: list[FunctionConfig],
        broken: Sequence[BrokenFunction] = (),
        layers: Sequence[LayerConfig] = (),
    ) -> None:
        """Layers (stored, then the template's), stored functions, then template functions (a
        template wins over a stored name) with the versions published before; then
        AutoPublishAlias, which may publish one more. ``broken`` ones are listed as Failed,
        with their reason printed once."""
        await asyncio.to_thread(self.layers.load)
        await self.layers.set_template(layers)
        stored = await asyncio.to_thread(self.store.load_all) if self.store else []
        for record in stored:
            record.state, record.last_update_status = "Active", "Successful"
            self.records[record.name] = record
        settings = await asyncio.to_thread(self.store.load_settings) if self.store else {}
        templates = [self.layers.template_function(c) for c in templates]
        records = [template_record(c, self.server.data_dir) for c in templates]
        for function in broken:
            log.warning("%s", function.describe())
        records += [failed_record(b) for b in broken if b.name is not None]
        for record in records:
            self.shadow(record.name)
            self.records[record.name] = record
            apply_settings(record, settings.get(record.name, {}))
            self.drop_lost_versions(record)
        await self._forget_settings(set(settings) - {r.name for r in records})
        for record in self.records.values():
            drop_lost_layers(record)
            await self.deploy_all(record)
        async with self.code_lock:
            for config in templates:
                await self.auto_publish(self.records[config.name], config)
        for record in records:
            if _as_stored(api_settings(record)) != settings.get(record.name):
                await self.persist(record)
        await asyncio.to_thread(self.collect_garbage)
        specs = [
            spec
            for record in (*self.records.values(), *self.shadowed.values())
            for spec in (record.latest, *record.versions.values())
        ]
        await asyncio.to_thread(self.layers.collect_garbage, used_layer_dirs(specs))

    async def _forget_settings(self, names: set[str]) -> None:
        """What the API set on template functions the template no longer defines: removing a
        function from the template deletes it, as its stack would (a --watch reload does)."""
        for name in names:
            if self.store is not None:
                await self.store.delete_settings(name)

    async def auto_publish(self, record: FunctionRecord, config: FunctionConfig) -> None:
        """SAM's ``AutoPublishAlias`` (at start-up and at each --watch reload; hold
        ``code_lock``; the caller persists): ``$LATEST`` published as PublishVersion would,
        the template's alias moved to that version, and the template's provisioned concurrency
        applied to it (as SAM applies it to the alias). The alias the template made before
        goes when the template names another one or none."""
        wanted = config.auto_publish_alias
        _drop_template_alias(record, wanted)
        if wanted:
            version = await self._auto_version(record, config.provisioned_concurrency)
            _point_template_alias(record, wanted, version.version)

    async def _auto_version(self, record: FunctionRecord, provisioned: int) -> FunctionSpec:
        """The version AutoPublishAlias points at: the newest if ``$LATEST`` is unchanged since
        (with the template's provisioned concurrency), else a new one."""
        version = self.unchanged(record)
        if version is None:
            return await self._publish(record, provisioned=provisioned)
        if version.extras.get("provisioned_concurrency", 0) != provisioned:
            extras = {**version.extras, "provisioned_concurrency": provisioned}
            version = record.versions[version.version] = dataclasses.replace(version, extras=extras)
            await self.deploy(record, version)
        return version


def _drop_template_alias(record: FunctionRecord, wanted: str | None) -> None:
    """The template's alias once the template names another one (``wanted``) or none."""
    old = record.template_alias
    if old is None or old == wanted:
        return
    record.template_alias = None
    if record.aliases.pop(old, None) is not None:
        record.event_invoke.pop(old, None)
        log.warning(
            "keepwarm: %s: alias %s deleted (no longer its AutoPublishAlias)", record.name, old
        )


def _point_template_alias(record: FunctionRecord, name: str, version: str) -> None:
    """Create or move the template's alias ``name``. An alias of that name the API created is
    left as it is, with a warning: a stack deploy would fail on it (CloudFormation does not
    take over an existing alias), and deleting it would lose what the user set."""
    current = record.aliases.get(name)
    if current is not None and record.template_alias != name:
        log.warning(
            "keepwarm: %s: AutoPublishAlias %s not applied: an alias of that name was created "
            "through the API and is left as it is (delete it with DeleteAlias and the next "
            "start or reload creates the template's)",
            record.name,
            name,
        )
        return
    if current is None or current.function_version != version or current.weights:
        record.aliases[name] = Alias(name, version)
    record.template_alias = name


def _as_stored(settings: dict[str, Any]) -> Any:
    """``settings`` as the store gives them back (JSON: tuples become lists)."""
    return json.loads(json.dumps(settings))
