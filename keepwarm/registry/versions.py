"""PublishVersion, ListVersionsByFunction and aliases.

Why versions are pools: a published version is an immutable snapshot, so it gets environments of
its own (``FunctionConfig(version="N")``) and ``X-Amz-Executed-Version`` is simply the pool's
version; an alias is only a pointer resolved at invoke time.
"""

from __future__ import annotations

from typing import Any

from keepwarm.config import constraint
from keepwarm.errors import (
    FunctionNotFound,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from keepwarm.registry import inputs
from keepwarm.registry.functions import latest_only
from keepwarm.registry.model import LATEST, Alias, FunctionRecord, new_revision
from keepwarm.registry.model import alias_shape as _alias_shape
from keepwarm.registry.names import FunctionRef, check_alias_name, is_version
from keepwarm.registry.paging import page_size, paginate
from keepwarm.registry.stack import StackOps


class VersionOps(StackOps):
    async def publish_version(self, ref: FunctionRef, body: dict[str, Any]) -> dict[str, Any]:
        """One publish at a time (it may copy a template's code; see snapshots), against
        ``$LATEST`` as its code is now."""
        latest_only(ref)
        self.record(ref.name)
        async with self.code_lock:
            record = self.record(ref.name)
            await self.refresh_digest(record)
            latest = record.latest
            if body.get("CodeSha256") and body["CodeSha256"] != latest.code_sha256:
                raise InvalidParameterValue(
                    f"CodeSHA256 ({body['CodeSha256']}) is different from current CodeSHA256 "
                    f"in $LATEST ({latest.code_sha256}). Please try again."
                )
            self._check_writable(record, body)
            newest = self.unchanged(record)
            if newest is not None:
                return self.shape(newest)
            spec = await self._publish(record, body.get("Description"))
        await self.persist(record)
        return self.shape(spec)

    def list_versions(
        self, ref: FunctionRef, marker: str | None, max_items: str | None
    ) -> dict[str, Any]:
        record = self.record(ref.name)
        specs = [record.latest, *(record.versions[v] for v in sorted(record.versions, key=int))]
        page, next_marker = paginate(specs, marker, max_items)
        out: dict[str, Any] = {"Versions": [self.shape(s) for s in page]}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    # -- aliases -------------------------------------------------------------------------------
    def _check_version(self, record: FunctionRecord, version: str) -> None:
        if version != LATEST and version not in record.versions:
            raise FunctionNotFound(self.arn(record.name, version))

    def _weights(self, record: FunctionRecord, body: dict[str, Any]) -> dict[str, float] | None:
        """``RoutingConfig`` as given (None when absent); checked with the alias by ``_route``."""
        routing = body.get("RoutingConfig")
        if routing is None:
            return None
        weights: dict[str, float] = {}
        for version, weight in (routing.get("AdditionalVersionWeights") or {}).items():
            if not is_version(version):
                raise constraint(
                    routing["AdditionalVersionWeights"],
                    "routingConfig.additionalVersionWeights",
                    "have keys that satisfy regular expression pattern: [0-9]+",
                )
            if weight is None or not 0.0 <= weight <= 1.0:
                shown = "null" if weight is None else weight
                raise InvalidParameterValue(f"Invalid weight for version {version}: {shown}")
            self._check_version(record, version)
            weights[version] = float(weight)
        if len(weights) > 1:
            raise InvalidParameterValue("An alias can route to at most one additional version.")
        if sum(weights.values()) > 1.0:
            raise InvalidParameterValue("The sum of the routing weights must not exceed 1.0.")
        return weights

    @staticmethod
    def _check_route(version: str, weights: dict[str, float]) -> None:
        """The alias's primary version and its additional one, as they will be together."""
        if not weights:
            return
        if version == LATEST:
            raise InvalidParameterValue(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        if version in weights:
            raise InvalidParameterValue(
                f"Invalid function version {version}. Function version {version} is already "
                "included in routing configuration."
            )

    def _alias(self, record: FunctionRecord, name: str) -> Alias:
        alias = record.aliases.get(name)
        if alias is None:
            raise ResourceNotFound(f"Cannot find alias arn: {self.arn(record.name, name)}")
        return alias

    async def create_alias(self, ref: FunctionRef, body: dict[str, Any]) -> dict[str, Any]:
        record = self.record(ref.name)
        name = str(inputs.require(body, "Name", "name"))
        check_alias_name(name)
        version = str(inputs.require(body, "FunctionVersion", "functionVersion"))
        if not (version == LATEST or is_version(version)):
            raise InvalidParameterValue(f"Invalid function version {version}")
        self._check_version(record, version)
        if name in record.aliases:
            raise ResourceConflict(f"Alias already exists: {self.arn(record.name, name)}")
        weights = self._weights(record, body) or {}
        self._check_route(version, weights)
        alias = Alias(name, version, str(body.get("Description") or ""))
        alias.weights = weights
        record.aliases[name] = alias
        await self.persist(record)
        return _alias_shape(alias, record.name, self.server)

    def get_alias(self, ref: FunctionRef, name: str) -> dict[str, Any]:
        record = self.record(ref.name)
        return _alias_shape(self._alias(record, name), record.name, self.server)

    async def update_alias(
        self, ref: FunctionRef, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        record = self.record(ref.name)
        alias = self._alias(record, name)
        if body.get("RevisionId") and body["RevisionId"] != alias.revision_id:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        version = str(body.get("FunctionVersion") or alias.function_version)
        self._check_version(record, version)
        given = self._weights(record, body)
        weights = alias.weights if given is None else given
        self._check_route(version, weights)
        alias.function_version, alias.weights = version, weights
        if body.get("Description") is not None:
            alias.description = str(body["Description"])
        alias.revision_id = new_revision()
        await self.persist(record)
        return _alias_shape(alias, record.name, self.server)

    async def delete_alias(self, ref: FunctionRef, name: str) -> None:
        record = self.record(ref.name)
        if record.aliases.pop(name, None) is not None:
            record.event_invoke.pop(name, None)
            if record.template_alias == name:  # an alias created again by name is the API's
                record.template_alias = None
            await self.persist(record)

    def list_aliases(
        self, ref: FunctionRef, version: str | None, marker: str | None, max_items: str | None
    ) -> dict[str, Any]:
        record = self.record(ref.name)
        aliases = [
            _alias_shape(a, record.name, self.server)
            for _, a in sorted(record.aliases.items())
            if not version or a.function_version == version
        ]
        size, after = page_size(max_items), marker or ""
        start = next((i for i, a in enumerate(aliases) if a["Name"] >= after), len(aliases))
        out: dict[str, Any] = {"Aliases": aliases[start : start + size]}
        if start + size < len(aliases):
            out["NextMarker"] = aliases[start + size]["Name"]  # the next page's first alias
        return out
