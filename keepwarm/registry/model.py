"""What the registry knows about a function, and the AWS shapes it is reported in.

Why specs are frozen: a published version is an immutable snapshot of ``$LATEST`` (code and
configuration), so a version is just a ``FunctionSpec`` with another ``version``; updates build
a new spec and never touch the old one, exactly as environments must never see a half-update.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm.config import FunctionConfig, LoggingConfig, ServerConfig
from keepwarm.observe import logs

LATEST = "$LATEST"
FAILED = "Failed"  # the State of a template function that cannot run
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE = 21600
# Fields that make a new published version differ from the last one.
_VERSIONED = (
    "runtime", "role", "handler", "timeout", "memory", "environment",
    "ephemeral_storage", "architectures", "code_sha256", "dead_letter_target", "tracing_mode",
    "layers", "layer_sha256", "logging_config",
)  # fmt: skip
# What GetFunction reports of a function's code and configuration: a change to any of them is
# an update, with a new RevisionId and LastModified.
_REPORTED = (*_VERSIONED, "code_size", "description")


def now_iso() -> str:
    """``LastModified`` as Lambda writes it: ``2018-11-27T15:10:45.123+0000``."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class FunctionSpec:
    """One version's code and configuration (``$LATEST`` or a published number)."""

    name: str
    handler: str
    runtime: str
    role: str
    code_dir: str
    code_sha256: str
    code_size: int
    description: str = ""
    timeout: int = 3
    memory: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    ephemeral_storage: int = 512
    architectures: tuple[str, ...] = ("x86_64",)
    dead_letter_target: str | None = None
    tracing_mode: str = "PassThrough"
    layers: tuple[str, ...] = ()
    layer_dirs: tuple[str, ...] = ()  # the content of ``layers`` keepwarm holds, in order
    layer_sha256: str = ""  # of a template's layers' content (code.layers_digest), else ""
    logging_config: dict[str, str] = field(default_factory=dict)  # the API's LoggingConfig
    version: str = LATEST
    revision_id: str = field(default_factory=new_revision)
    last_modified: str = field(default_factory=now_iso)
    extras: dict[str, Any] = field(default_factory=dict)

    def changed(self, **changes: Any) -> FunctionSpec:
        """A new spec with a new RevisionId and LastModified (every update gets both)."""
        return dataclasses.replace(
            self, revision_id=new_revision(), last_modified=now_iso(), **changes
        )

    def same_as(self, other: FunctionSpec) -> bool:
        return all(getattr(self, k) == getattr(other, k) for k in _VERSIONED)

    def revised_from(self, before: FunctionSpec) -> FunctionSpec:
        """This spec built anew (a template read again) as an update of ``before``: with
        ``before``'s RevisionId and LastModified when nothing GetFunction reports changed, so a
        client's RevisionId guard still passes after a restart or a reload that changed
        nothing; else as built (a new revision)."""
        if any(getattr(self, k) != getattr(before, k) for k in _REPORTED):
            return self
        return dataclasses.replace(
            self, revision_id=before.revision_id, last_modified=before.last_modified
        )

    def to_config(self, reserved: int | None) -> FunctionConfig:
        """The runtime's view: what environments of this version are created from."""
        return FunctionConfig(
            name=self.name,
            handler=self.handler,
            code_dir=Path(self.code_dir),
            runtime=self.runtime,
            memory_mb=self.memory,
            timeout_s=self.timeout,
            environment=dict(self.environment),
            reserved_concurrency=reserved,
            ephemeral_storage_mb=self.ephemeral_storage,
            version=self.version,
            revision=self.revision_id,
            logging=LoggingConfig.from_shape(self.logging_config),
            layer_dirs=tuple(Path(p) for p in self.layer_dirs),
            **self.extras,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["architectures"] = list(self.architectures)
        data["layers"] = list(self.layers)
        data["layer_dirs"] = list(self.layer_dirs)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionSpec:
        data = dict(data)
        data["architectures"] = tuple(data.get("architectures", ("x86_64",)))
        data["layers"] = tuple(data.get("layers", ()))
        data["layer_dirs"] = tuple(data.get("layer_dirs", ()))
        return cls(**data)


@dataclass
class Alias:
    name: str
    function_version: str
    description: str = ""
    weights: dict[str, float] = field(default_factory=dict)
    revision_id: str = field(default_factory=new_revision)


@dataclass
class FunctionRecord:
    """A function: ``$LATEST``, its published versions, aliases and function-level settings."""

    latest: FunctionSpec
    origin: str = "api"  # api | template
    state: str = "Pending"
    last_update_status: str = "Successful"
    versions: dict[str, FunctionSpec] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    reserved: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # The API's tag changes to a template function (None: removed), kept over its template's.
    tag_changes: dict[str, str | None] = field(default_factory=dict)
    event_invoke: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_version: int = 1
    # StateReason and StateReasonCode of a Failed function (a template function that cannot run)
    state_reason: tuple[str, str] | None = None
    # The alias a template function's AutoPublishAlias made (the others are the API's), and
    # the EventInvokeConfig its template gives (the template is its source: never stored)
    template_alias: str | None = None
    template_event_invoke: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.latest.name

    def spec(self, version: str) -> FunctionSpec | None:
        return self.latest if version == LATEST else self.versions.get(version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latest": self.latest.to_dict(),
            "origin": self.origin,
            "state": self.state,
            "last_update_status": self.last_update_status,
            "versions": {k: v.to_dict() for k, v in self.versions.items()},
            "aliases": {k: dataclasses.asdict(a) for k, a in self.aliases.items()},
            "reserved": self.reserved,
            "tags": self.tags,
            "event_invoke": self.event_invoke,
            "next_version": self.next_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionRecord:
        return cls(
            latest=FunctionSpec.from_dict(data["latest"]),
            origin=data.get("origin", "api"),
            state=data.get("state", "Active"),
            last_update_status=data.get("last_update_status", "Successful"),
            versions={k: FunctionSpec.from_dict(v) for k, v in data.get("versions", {}).items()},
            aliases={k: Alias(**a) for k, a in data.get("aliases", {}).items()},
            reserved=data.get("reserved"),
            tags=dict(data.get("tags", {})),
            event_invoke=dict(data.get("event_invoke", {})),
            next_version=int(data.get("next_version", 1)),
        )


def event_invoke_config(given: dict[str, Any]) -> dict[str, Any]:
    """A stored event-invoke config: what ``given`` sets, Lambda's defaults for the rest."""
    retries, age = given.get("MaximumRetryAttempts"), given.get("MaximumEventAgeInSeconds")
    return {
        "MaximumRetryAttempts": DEFAULT_RETRIES if retries is None else retries,
        "MaximumEventAgeInSeconds": DEFAULT_MAX_AGE if age is None else age,
        "DestinationConfig": given.get("DestinationConfig") or {"OnSuccess": {}, "OnFailure": {}},
        "LastModified": time.time(),
    }


def api_settings(record: FunctionRecord) -> dict[str, Any]:
    """What a template function gained that outlives a restart (see FunctionStore): the API's
    changes, its published versions (each runs a snapshot of its code in the data dir) with
    their aliases and which of them the template made, and ``$LATEST`` as last served (its
    RevisionId is kept at the next start if the template still says the same)."""
    return {
        "event_invoke": api_event_invoke(record),
        "tag_changes": record.tag_changes,
        "versions": {k: v.to_dict() for k, v in record.versions.items()},
        "aliases": {k: dataclasses.asdict(a) for k, a in record.aliases.items()},
        "template_alias": record.template_alias,
        "next_version": record.next_version,
        "latest": record.latest.to_dict(),
    }


def api_event_invoke(record: FunctionRecord) -> dict[str, dict[str, Any]]:
    """The event-invoke configs the API put, without the one the template gives."""
    return {
        k: v
        for k, v in record.event_invoke.items()
        if not (k == LATEST and v == record.template_event_invoke)
    }


def apply_settings(record: FunctionRecord, settings: dict[str, Any]) -> None:
    """The API's changes over what the template says (the API's win, qualifier by qualifier
    and tag by tag), the versions published before, and ``$LATEST``'s revision if unchanged."""
    record.event_invoke = {**record.event_invoke, **settings.get("event_invoke", {})}
    change_tags(record, settings.get("tag_changes", {}))
    versions = settings.get("versions", {})
    record.versions.update({k: FunctionSpec.from_dict(v) for k, v in versions.items()})
    record.aliases.update({k: Alias(**a) for k, a in settings.get("aliases", {}).items()})
    record.next_version = max(record.next_version, int(settings.get("next_version", 1)))
    if "latest" in settings:
        record.latest = record.latest.revised_from(FunctionSpec.from_dict(settings["latest"]))
    if "template_alias" in settings:
        record.template_alias = settings["template_alias"]
    else:  # stored before keepwarm told them apart
        record.template_alias = _published_alias(record)


def _published_alias(record: FunctionRecord) -> str | None:
    """The AutoPublishAlias the newest version was published under, if that alias exists:
    the template's alias, in settings stored before keepwarm recorded which one it is."""
    newest = max(record.versions, key=int, default=None)
    named = record.versions[newest].extras.get("auto_publish_alias") if newest else None
    return named if named in record.aliases else None


def change_tags(record: FunctionRecord, changes: dict[str, str | None]) -> None:
    """Set (a value) or remove (None) tags, remembering the change for a template function."""
    record.tags = tags_after(record.tags, changes)
    if record.origin == "template":
        record.tag_changes.update(changes)


def tags_after(tags: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    out = {**tags, **{k: v for k, v in changes.items() if v is not None}}
    return {k: v for k, v in out.items() if changes.get(k, v) is not None}


# -- AWS shapes --------------------------------------------------------------------------------
_STATE_REASONS = {
    "Pending": ("The function is being created.", "Creating"),
    "Active": (None, None),
}


def configuration(
    spec: FunctionSpec,
    server: ServerConfig,
    *,
    state: str = "Active",
    update_status: str = "Successful",
    listing: bool = False,
    reason: tuple[str, str] | None = None,
    layer_sizes: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """FunctionConfiguration (contract §5.2); ListFunctions omits the state fields (§5.3).
    ``reason``: a Failed function's StateReason and StateReasonCode (its last update failed
    for the same reason). ``layer_sizes``: the CodeSize of the layers keepwarm holds (0 for
    the others: another account's layer is not known here)."""
    qualifier = None if spec.version == LATEST else spec.version
    out: dict[str, Any] = {
        "FunctionName": spec.name,
        "FunctionArn": server.function_arn(spec.name, qualifier),
        "Runtime": spec.runtime,
        "Role": spec.role,
        "Handler": spec.handler,
        "CodeSize": spec.code_size,
        "Description": spec.description,
        "Timeout": spec.timeout,
        "MemorySize": spec.memory,
        "LastModified": spec.last_modified,
        "CodeSha256": spec.code_sha256,
        "Version": spec.version,
        "Environment": {"Variables": dict(spec.environment)},
        "TracingConfig": {"Mode": spec.tracing_mode},
        "RevisionId": spec.revision_id,
        "PackageType": "Zip",
        "Architectures": list(spec.architectures),
        "EphemeralStorage": {"Size": spec.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": LoggingConfig.from_shape(spec.logging_config).shape(spec.name),
    }
    if spec.layers:
        sizes = layer_sizes or {}
        out["Layers"] = [{"Arn": arn, "CodeSize": sizes.get(arn, 0)} for arn in spec.layers]
    if spec.dead_letter_target:
        out["DeadLetterConfig"] = {"TargetArn": spec.dead_letter_target}
    if listing:
        return out
    said, code = reason or _STATE_REASONS.get(state, (None, None))
    out["State"] = state
    if said:
        out["StateReason"], out["StateReasonCode"] = said, code
    out["LastUpdateStatus"] = update_status
    if update_status == "InProgress":
        out["LastUpdateStatusReason"] = "The function is being created."
        out["LastUpdateStatusReasonCode"] = "Creating"
    elif update_status == "Failed" and said:
        out["LastUpdateStatusReason"], out["LastUpdateStatusReasonCode"] = said, code
    arn = logs.runtime_version(spec.runtime)[1].format(region=server.region)
    out["RuntimeVersionConfig"] = {"RuntimeVersionArn": arn}
    return out


def alias_shape(alias: Alias, function: str, server: ServerConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AliasArn": server.function_arn(function, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
    return out
