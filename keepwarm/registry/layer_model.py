"""A layer version as the registry holds it, its ARNs, and the AWS shapes it is reported in.

Why frozen: a published layer version never changes on Lambda (DeleteLayerVersion only hides
it), so a version is written once; deleting it keeps its record as a tombstone, which is what
keeps its number from being used again and lets a function that still runs it report its size.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from keepwarm.config import ServerConfig, layer_version_arn
from keepwarm.registry.model import now_iso

TEMPLATE = "template"
API = "api"
# A layer version ARN (or a layer ARN, ``version`` None), the parts keepwarm compares.
_ARN = re.compile(
    r"arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?"
)


@dataclass(frozen=True)
class LayerRef:
    """The layer (and version) an ARN names."""

    region: str
    account: str
    name: str
    version: int | None

    @property
    def layer(self) -> tuple[str, str, str]:
        return self.region, self.account, self.name


def parse_arn(arn: str) -> LayerRef | None:
    """A ``layer`` ARN's parts, or None for anything else (AWS's ``awslayer`` form too)."""
    match = _ARN.fullmatch(arn)
    if match is None:
        return None
    version = match["version"]
    return LayerRef(
        match["region"], match["account"], match["name"], int(version) if version else None
    )


@dataclass(frozen=True)
class LayerVersion:
    """One version of a layer: its content (a directory) and what PublishLayerVersion said.

    ``compatible_*`` and ``license_info`` are None when not given (Lambda then leaves them out
    of its answers; an empty list given is shown as one). A template's layer (``origin``
    ``template``) runs its template's directory itself; a published one, the zip unpacked in
    the data dir."""

    name: str
    version: int
    content_dir: str
    code_sha256: str
    code_size: int
    description: str = ""
    compatible_runtimes: tuple[str, ...] | None = None
    compatible_architectures: tuple[str, ...] | None = None
    license_info: str | None = None
    created_date: str = field(default_factory=now_iso)
    origin: str = API
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("compatible_runtimes", "compatible_architectures"):
            data[key] = None if data[key] is None else list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerVersion:
        data = dict(data)
        for key in ("compatible_runtimes", "compatible_architectures"):
            data[key] = None if data.get(key) is None else tuple(data[key])
        return cls(**data)


def layer_arn(server: ServerConfig, name: str) -> str:
    return f"arn:aws:lambda:{server.region}:{server.account_id}:layer:{name}"


def version_arn(server: ServerConfig, layer: LayerVersion) -> str:
    return layer_version_arn(server.region, layer.name, layer.version, server.account_id)


def _described(layer: LayerVersion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if layer.compatible_runtimes is not None:
        out["CompatibleRuntimes"] = list(layer.compatible_runtimes)
    if layer.license_info is not None:
        out["LicenseInfo"] = layer.license_info
    if layer.compatible_architectures is not None:
        out["CompatibleArchitectures"] = list(layer.compatible_architectures)
    return out


def version_shape(layer: LayerVersion, server: ServerConfig, location: str) -> dict[str, Any]:
    """PublishLayerVersion's and GetLayerVersion's answer; ``location``: Content.Location."""
    return {
        "Content": {
            "Location": location,
            "CodeSha256": layer.code_sha256,
            "CodeSize": layer.code_size,
        },
        "LayerArn": layer_arn(server, layer.name),
        **list_item(layer, server),
    }


def list_item(layer: LayerVersion, server: ServerConfig) -> dict[str, Any]:
    """A LayerVersionsListItem (ListLayerVersions, and ListLayers' LatestMatchingVersion)."""
    return {
        "LayerVersionArn": version_arn(server, layer),
        "Version": layer.version,
        "Description": layer.description,
        "CreatedDate": layer.created_date,
        **_described(layer),
    }


def layers_item(layer: LayerVersion, server: ServerConfig) -> dict[str, Any]:
    """A LayersListItem: the layer, with ``layer`` as its latest matching version."""
    return {
        "LayerName": layer.name,
        "LayerArn": layer_arn(server, layer.name),
        "LatestMatchingVersion": list_item(layer, server),
    }
