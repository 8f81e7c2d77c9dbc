"""CreateFunction, GetFunction, ListFunctions, UpdateFunction*, DeleteFunction.

Why the order of effects: code is unpacked and every value validated before any state changes;
the router gets the new version before the record says so, so an invocation never finds a
record whose environments cannot be created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

from keepwarm.config import constraint
from keepwarm.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict
from keepwarm.registry import code, inputs
from keepwarm.registry.base import not_active
from keepwarm.registry.model import (
    LATEST,
    FunctionRecord,
    FunctionSpec,
    new_revision,
)
from keepwarm.registry.names import FunctionRef, parse_function
from keepwarm.registry.paging import paginate
from keepwarm.registry.snapshots import CodeOps

log = logging.getLogger("keepwarm.registry")


class FunctionOps(CodeOps):
    # -- create --------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = inputs.create_fields(body)
        tags = inputs.check_tags(body.get("Tags") or {})
        ref = parse_function(str(fields["name"]), None, self.server.region)
        if ref.qualifier is not None:
            raise InvalidParameterValue("Unqualified function name expected for CreateFunction.")
        fields["name"] = ref.name
        if ref.name in self.records:
            raise ResourceConflict(f"Function already exist: {ref.name}")
        self.code_root.mkdir(parents=True, exist_ok=True)
        inputs.validate(fields, self.code_root)
        fields["layer_dirs"] = self.layers.resolve(ref.name, fields.get("layers", ()))
        code_dir, sha, size = await self._unpack(ref.name, inputs.zip_bytes(body.get("Code")))
        await self.layers.check_size(str(code_dir), fields["layer_dirs"])
        spec = FunctionSpec(code_dir=str(code_dir), code_sha256=sha, code_size=size, **fields)
        if ref.name in self.records:  # raced with another create while unpacking
            raise ResourceConflict(f"Function already exist: {ref.name}")
        record = FunctionRecord(latest=spec, tags=tags)
        self.records[ref.name] = record
        await self.deploy(record, spec)
        shown = spec
        if body.get("Publish"):
            shown = await self._publish(record)
        out = self.shape(shown, state="Pending")
        self.settle(record)
        await self.persist(record)
        return out

    async def _unpack(self, name: str, data: bytes) -> tuple[Path, str, int]:
        root = self.code_root / name
        code_dir = await asyncio.to_thread(code.unpack, data, root)
        await asyncio.to_thread(code.store_zip, code_dir.with_suffix(".zip"), data)
        return code_dir, code.sha256_b64(data), len(data)

    async def _publish(
        self, record: FunctionRecord, description: str | None = None, provisioned: int = 0
    ) -> FunctionSpec:
        """Snapshot ``$LATEST`` as the next number (shared with PublishVersion), code and all:
        a template's directory is copied (see snapshots). ``$LATEST`` gets a new RevisionId,
        as on Lambda: a guard read before the publish no longer passes."""
        frozen = await self.frozen_code(record.latest)
        number = str(record.next_version)
        record.next_version += 1
        spec = record.latest.changed(version=number, **frozen)
        if description is not None:
            spec = spec.changed(description=description)
        if provisioned:
            spec = dataclasses.replace(
                spec, extras={**spec.extras, "provisioned_concurrency": provisioned}
            )
        record.versions[number] = spec
        record.latest = dataclasses.replace(record.latest, revision_id=new_revision())
        await self.deploy(record, spec)
        return spec

    def unchanged(self, record: FunctionRecord) -> FunctionSpec | None:
        """The newest version, when ``$LATEST`` has not changed since (Lambda publishes no new
        version then)."""
        newest = max(record.versions, key=int, default=None)
        if newest is not None and record.versions[newest].same_as(record.latest):
            return record.versions[newest]
        return None

    # -- read ----------------------------------------------------------------------------------
    def get_configuration(self, ref: FunctionRef) -> dict[str, Any]:
        spec = self.spec_for(ref)
        record = self.records[ref.name]
        if spec.version == LATEST:
            return self.shape(
                spec,
                state=record.state,
                update_status=record.last_update_status,
                reason=record.state_reason,
            )
        return self.shape(spec)

    def get(self, ref: FunctionRef, base_url: str | None = None) -> dict[str, Any]:
        """``Code.Location`` starts with ``base_url`` (how the caller reached us), if given."""
        record = self.record(ref.name, ref.qualifier)
        config = self.get_configuration(ref)
        spec = self.spec_for(ref)
        digest = code.hex_digest(spec.code_sha256)
        location = f"{base_url or self.public_url}/_keepwarm/code/{record.name}/{digest}.zip"
        out: dict[str, Any] = {
            "Configuration": config,
            "Code": {"RepositoryType": "S3", "Location": location},
        }
        if record.tags:
            out["Tags"] = dict(record.tags)
        if record.reserved is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": record.reserved}
        return out

    async def code_zip(self, name: str, digest: str) -> Path | bytes:
        """The package behind ``Code.Location``: the uploaded zip's path, or, for a template
        function (its code is a directory; no zip exists), the directory zipped now. An unknown
        function and an unknown package get the same answer: this route is unsigned, and must
        not tell which functions exist."""
        record = self.records.get(name)
        if record is None:
            raise InvalidParameterValue("No such code package.")
        digest = digest.removesuffix(".zip")
        stored = self.code_root / record.name / f"{digest}.zip"
        if "/" not in digest and stored.is_file():
            return stored
        for spec in (*record.versions.values(), record.latest):  # a version's code stays put
            if (
                spec.code_dir
                and Path(spec.code_dir).is_dir()
                and code.hex_digest(spec.code_sha256) == digest
            ):
                folder, skip = Path(spec.code_dir), self.server.data_dir
                return await asyncio.to_thread(code.zip_directory, folder, skip)
        raise InvalidParameterValue("No such code package.")

    def list(
        self, marker: str | None, max_items: str | None, function_version: str | None
    ) -> dict[str, Any]:
        if function_version not in (None, "", "ALL"):
            raise constraint(function_version, "functionVersion", "satisfy enum value set: [ALL]")
        specs: list[FunctionSpec] = []
        for name in sorted(self.records):
            record = self.records[name]
            specs.append(record.latest)
            if function_version == "ALL":
                specs.extend(record.versions[v] for v in sorted(record.versions, key=int))
        page, next_marker = paginate(specs, marker, max_items)
        out: dict[str, Any] = {"Functions": [self.shape(s, listing=True) for s in page]}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    # -- update --------------------------------------------------------------------------------
    def _check_writable(self, record: FunctionRecord, body: dict[str, Any]) -> None:
        """Lambda refuses a change while the function is being created or updated (409), and a
        change made against an older revision than the latest (412)."""
        if record.state != "Active":
            raise not_active(record)
        if record.last_update_status == "InProgress":
            raise ResourceConflict(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {self.arn(record.name)}"
            )
        self._check_revision(record, body)

    def _check_revision(self, record: FunctionRecord, body: dict[str, Any]) -> None:
        wanted = body.get("RevisionId")
        if wanted and wanted != record.latest.revision_id:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )

    async def update_code(self, ref: FunctionRef, body: dict[str, Any]) -> dict[str, Any]:
        latest_only(ref)
        record = self.record(ref.name)
        self._check_writable(record, body)
        changes: dict[str, Any] = {}
        if body.get("Architectures") is not None:
            changes["architectures"] = inputs.architectures(body["Architectures"])
        data = inputs.zip_bytes(
            {
                "ZipFile": body.get("ZipFile"),
                "S3Bucket": body.get("S3Bucket"),
                "S3Key": body.get("S3Key"),
                "ImageUri": body.get("ImageUri"),
            }
        )
        code_dir, sha, size = await self._unpack(record.name, data)
        await self.layers.check_size(str(code_dir), record.latest.layer_dirs)
        record = self.record(ref.name)  # the unpacking took turns: check again, then apply
        self._check_writable(record, body)
        spec = record.latest.changed(
            code_dir=str(code_dir), code_sha256=sha, code_size=size, **changes
        )
        if body.get("DryRun"):
            return self.shape(spec)
        return await self._apply(record, spec, bool(body.get("Publish")))

    async def update_configuration(self, ref: FunctionRef, body: dict[str, Any]) -> dict[str, Any]:
        latest_only(ref)
        record = self.record(ref.name)
        self._check_writable(record, body)
        changes = inputs.config_changes(body)
        if "logging_config" in changes:
            changes["logging_config"] = inputs.merged_logging(
                record.latest.logging_config, changes["logging_config"]
            )
        merged = {**_spec_fields(record.latest), **changes}
        self.code_root.mkdir(parents=True, exist_ok=True)
        inputs.validate(merged, self.code_root)
        if "layers" in changes:
            changes["layer_dirs"] = self.layers.resolve(record.name, changes["layers"])
            await self.layers.check_size(record.latest.code_dir, changes["layer_dirs"])
            record = self.record(ref.name)  # measuring took turns: check again, then apply
            self._check_writable(record, body)
        spec = record.latest.changed(**changes)
        return await self._apply(record, spec, False)

    async def _apply(
        self, record: FunctionRecord, spec: FunctionSpec, publish: bool
    ) -> dict[str, Any]:
        record.latest = spec
        record.last_update_status = "InProgress"
        await self.deploy(record, spec)
        shown = await self._publish(record) if publish else spec
        out = self.shape(shown, state=record.state, update_status="InProgress")
        self.settle(record)
        await self.persist(record)
        return out

    # -- delete --------------------------------------------------------------------------------
    async def delete(self, ref: FunctionRef) -> None:
        record = self.record(ref.name, ref.qualifier)
        if ref.qualifier is None:
            del self.records[record.name]
            await self.runtime.router.remove(record.name)
            await self._forget(record)
            await self.release(record.name)
            return
        await self.delete_version(record, ref.qualifier)

    async def _forget(self, record: FunctionRecord) -> None:
        """The stored rows of a deleted function: a template function's own settings only, as
        the API function it may hide (``shadowed``) is kept under the same name."""
        if self.store is None:
            return
        if record.origin == "template":
            await self.store.delete_settings(record.name)
        else:
            await self.store.delete(record.name)

    async def delete_version(self, record: FunctionRecord, qualifier: str) -> None:
        if qualifier == LATEST:
            raise InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if qualifier not in record.versions:
            raise InvalidParameterValue(
                "Deletion of aliases is not currently supported."
                if qualifier in record.aliases
                else f"Function not found: {self.arn(record.name, qualifier)}"
            )
        users = sorted(
            a.name
            for a in record.aliases.values()
            if qualifier == a.function_version or qualifier in a.weights
        )
        if users:
            raise ResourceConflict(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(users)}]"
            )
        del record.versions[qualifier]
        record.event_invoke.pop(qualifier, None)
        await self.runtime.router.remove(record.name, qualifier)
        await self.persist(record)
        await self.release(record.name)


def latest_only(ref: FunctionRef) -> None:
    """Updates and publishing act on $LATEST; naming a version or alias is refused, not
    silently redirected."""
    if ref.qualifier not in (None, LATEST):
        raise InvalidParameterValue(
            "Current operation does not support versions other than $LATEST. Please set the "
            "version to $LATEST or do not set a version in your request."
        )


def _spec_fields(spec: FunctionSpec) -> dict[str, Any]:
    return {
        "name": spec.name, "handler": spec.handler, "runtime": spec.runtime, "role": spec.role,
        "memory": spec.memory, "timeout": spec.timeout, "environment": spec.environment,
        "ephemeral_storage": spec.ephemeral_storage, "description": spec.description,
        "logging_config": spec.logging_config,
    }  # fmt: skip
