"""A template's layers (``AWS::Serverless::LayerVersion``, ``AWS::Lambda::LayerVersion``) and a
function's ``Layers``.

Why: a SAM project often keeps its dependencies in a layer of its own (``ContentUri: deps/``,
``Layers: [!Ref DepsLayer]``); recorded as an ARN only, its functions would fail to import
them. So a layer whose content is local (a directory, a .zip) becomes a ``LayerConfig`` (built
as ``sam build`` builds it: see ``_layer_build``) and a function naming it, by ``!Ref`` or by
its ARN, gets its content at /opt. A layer only a deployed stack has (its content in S3) is
recorded by ARN with a warning, as a literal ARN is. What the template says wrong about a layer
(a missing ContentUri directory, a name Lambda refuses) is the problem of the functions using
it, which cannot run, as for a wrong CodeUri; a layer no function uses only warns.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keepwarm._cfn import LAYER_TYPES, as_text
from keepwarm._layer_build import build_for, built_copy
from keepwarm.config import LayerConfig, constraint
from keepwarm.errors import ServiceError, TemplateError
from keepwarm.lambda_runtimes import LAMBDA_RUNTIMES
from keepwarm.registry import code, inputs

if TYPE_CHECKING:
    from keepwarm._sam_function import FunctionReader, ReadContext

_SERVERLESS = "AWS::Serverless::LayerVersion"
LAYER_NAME_PATTERN = (
    r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
)
_BUILD_ROOT = ".layers"  # under the build dir; a dot, so no function's inline code is there


@dataclass(frozen=True)
class TemplateLayer:
    """One layer resource: its version ARN, and its content here (``config``) or why none."""

    logical_id: str
    arn: str
    config: LayerConfig | None
    problem: str = ""
    broken: bool = False  # the template is wrong about it: the functions using it cannot run


class _NotMounted(Exception):
    def __init__(self, problem: str, *, broken: bool) -> None:
        super().__init__(problem)
        self.problem = problem
        self.broken = broken


def read_layers(resources: dict[str, Any], ctx: ReadContext) -> dict[str, TemplateLayer]:
    """The template's layers by version ARN; the ones not mounted are said once each."""
    read: list[TemplateLayer] = [
        LayerReader(str(logical_id), resource, ctx).layer()
        for logical_id, resource in resources.items()
        if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES
    ]
    by_arn: dict[str, list[TemplateLayer]] = {}
    for layer in read:
        by_arn.setdefault(layer.arn, []).append(layer)
    found: dict[str, TemplateLayer] = {}
    for arn, same in by_arn.items():
        layer = same[0] if len(same) == 1 else _shared_name(arn, same)
        if layer.config is None:
            ctx.warnings.append(f"Layer {layer.logical_id}: not served: {layer.problem}")
        found[arn] = layer
    return found


def _shared_name(arn: str, same: list[TemplateLayer]) -> TemplateLayer:
    """Two resources publishing one layer would be its versions 1 and 2 in an order
    CloudFormation picks; keepwarm cannot tell which function gets which."""
    ids = ", ".join(layer.logical_id for layer in same)
    problem = f"{ids} all publish {arn.rsplit(':', 1)[0]}; give each its own LayerName."
    return TemplateLayer(" and ".join(layer.logical_id for layer in same), arn, None, problem, True)


class LayerReader:
    """One layer resource; properties resolved as a function's are."""

    def __init__(self, logical_id: str, resource: dict[str, Any], ctx: ReadContext) -> None:
        self.id = logical_id
        self.resource = resource
        self.ctx = ctx
        self.serverless = resource.get("Type") == _SERVERLESS
        self.content_key = "ContentUri" if self.serverless else "Content"
        props = resource.get("Properties")
        self.props: dict[str, Any] = props if isinstance(props, dict) else {}

    def warn(self, message: str) -> None:
        self.ctx.warnings.append(f"Layer {self.id}: {message}")

    def layer(self) -> TemplateLayer:
        arn = self.ctx.resolver.layer_arn(self.id)
        try:
            return TemplateLayer(self.id, arn, self.config())
        except _NotMounted as exc:
            return TemplateLayer(self.id, arn, None, exc.problem, exc.broken)

    def config(self) -> LayerConfig:
        if not isinstance(self.resource.get("Properties"), dict):
            raise _NotMounted("Properties must be a mapping.", broken=True)
        self._check_condition()
        try:
            name = self._name()
            description = self._text("Description") or ""
            inputs.check_description(description)
            runtimes, architectures = self._runtimes(), self._architectures()
            license_info = self._license()
        except ServiceError as exc:
            raise _NotMounted(exc.message, broken=True) from exc
        return LayerConfig(
            name, self._content(), description, runtimes, architectures, license_info
        )

    def _check_condition(self) -> None:
        condition = self.resource.get("Condition")
        if not isinstance(condition, str):
            return
        truth = self.ctx.resolver.condition(condition)
        if truth is None:
            self.warn(f"condition {condition} cannot be evaluated locally; the layer is kept.")
        if truth is False:
            raise _NotMounted(f"its Condition {condition} is false.", broken=False)

    def _resolved(self, key: str) -> Any:
        if key not in self.props:
            return None
        found = self.ctx.resolver.resolve(self.props[key], (key,))
        for guess in found.guesses:
            self.warn(f"{key}: {guess}")
        if found.unresolved:
            reasons = "; ".join(u.what for u in found.unresolved)
            raise _Unresolved(f"{key} cannot be resolved locally ({reasons})")
        return found.value

    def _text(self, key: str) -> str | None:
        try:
            value = self._resolved(key)
        except _Unresolved as exc:
            self.warn(f"{exc}; left out.")
            return None
        return None if value is None else as_text(value)

    def _name(self) -> str:
        if "LayerName" in self.props:
            try:
                self._resolved("LayerName")
            except _Unresolved as exc:
                self.warn(f"{exc}; using {self.id}.")
        name = self.ctx.resolver.layer_name(self.id)
        if len(name) > 140:
            raise constraint(name, "layerName", "have length less than or equal to 140")
        if not re.fullmatch(r"[a-zA-Z0-9-_]+", name):
            raise constraint(
                name, "layerName", f"satisfy regular expression pattern: {LAYER_NAME_PATTERN}"
            )
        return name

    def _list(self, key: str) -> list[str]:
        try:
            value = self._resolved(key)
        except _Unresolved as exc:
            self.warn(f"{exc}; left out.")
            return []
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _NotMounted(f"{key} must be a list of strings.", broken=True)
        return value

    def _runtimes(self) -> tuple[str, ...]:
        runtimes = self._list("CompatibleRuntimes")
        if len(runtimes) > 15:
            raise constraint(runtimes, "compatibleRuntimes", "have length less than or equal to 15")
        for runtime in runtimes:
            if runtime not in LAMBDA_RUNTIMES:
                raise _NotMounted(
                    f"CompatibleRuntimes: {runtime!r} is not a Lambda runtime.", broken=True
                )
        return tuple(runtimes)

    def _architectures(self) -> tuple[str, ...]:
        architectures = self._list("CompatibleArchitectures")
        if len(architectures) > 2 or not set(architectures) <= set(inputs.ARCHITECTURES):
            raise _NotMounted(  # SAM's words
                "CompatibleArchitectures needs to be a list of 'x86_64' or 'arm64'", broken=True
            )
        return tuple(architectures)

    def _license(self) -> str | None:
        text = self._text("LicenseInfo")
        if text is not None and len(text) > 512:
            raise constraint(text, "licenseInfo", "have length less than or equal to 512")
        return text

    def _content(self) -> Path:
        """The layer's root as /opt shows it: ContentUri itself, the unpacked .zip, or the
        copy its BuildMethod makes."""
        key = self.content_key
        if key not in self.props:
            raise _NotMounted(f"{key} is required.", broken=True)
        try:
            value = self._resolved(key)
        except _Unresolved as exc:
            raise _NotMounted(f"{exc}.", broken=False) from exc
        if isinstance(value, dict) or (isinstance(value, str) and value.startswith("s3://")):
            raise _NotMounted(
                f"{key} {as_text(value)} is in S3; keepwarm reads a local directory or .zip.",
                broken=False,
            )
        if not isinstance(value, str) or not value:
            raise _NotMounted(f"{key} must be a local path or an S3 location.", broken=True)
        path = (self.ctx.file.parent / value).resolve()
        if not path.exists():
            raise _NotMounted(f"{key} {value!r} does not exist (looked for {path}).", broken=True)
        if path.is_dir():
            return self._built(path)
        if zipfile.is_zipfile(path):
            return self._unzipped(path, value)
        raise _NotMounted(
            f"{key} {value!r} is a file; a layer's content is a directory or a .zip.", broken=True
        )

    def _root(self) -> Path:
        return self.ctx.build_dir / _BUILD_ROOT / self.id

    def _unzipped(self, path: Path, given: str) -> Path:
        method = self._build_method()
        if method is not None:
            self.warn(f"BuildMethod {method} does not apply to a .zip; its content is used as is.")
        try:
            return code.unpack(path.read_bytes(), self._root())
        except ServiceError as exc:
            raise _NotMounted(f"{self.content_key} {given!r}: {exc.message}", broken=True) from exc
        except OSError as exc:
            raise _NotMounted(f"cannot unpack {path}: {exc}", broken=True) from exc

    def _build_method(self) -> str | None:
        metadata = self.resource.get("Metadata")
        method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
        if method is None:
            return None
        if not isinstance(method, str):
            self.warn(f"Metadata.BuildMethod must be a string, got {method!r}; not built.")
            return None
        return method

    def _built(self, path: Path) -> Path:
        """As ``sam build`` leaves it; a template ``sam build`` wrote (in ``.aws-sam``) keeps its
        BuildMethod but its ContentUri is already built."""
        method = self._build_method()
        if method is None or ".aws-sam" in self.ctx.file.parts:
            return path
        build = build_for(method)
        if build is None:
            if method == "makefile":
                self.warn("BuildMethod makefile: keepwarm runs no make; ContentUri is used as is.")
            else:
                self.warn(
                    f"BuildMethod {method} is not emulated (python3.x and nodejs*.x are); "
                    "ContentUri is used as is."
                )
            return path
        if build.subdir == "nodejs":
            self._check_node_modules(path)
        try:
            return built_copy(path, self._root(), build, self.ctx.build_dir)
        except TemplateError as exc:
            raise _NotMounted(str(exc), broken=True) from exc

    def _check_node_modules(self, path: Path) -> None:
        try:
            manifest = json.loads((path / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        wanted = manifest.get("dependencies") if isinstance(manifest, dict) else None
        if wanted and not (path / "node_modules").is_dir():
            self.warn(
                "package.json lists dependencies and there is no node_modules: keepwarm runs "
                "no npm install (run it in ContentUri)."
            )


class _Unresolved(Exception):
    """A property only a deployed stack can evaluate."""


def function_layers(reader: FunctionReader) -> tuple[tuple[str, ...], tuple[Path, ...]]:
    """A function's layer version ARNs (Globals' first, as SAM adds them) and the content of
    those keepwarm has, in the same order."""
    arns: list[str] = []
    dirs: list[Path] = []
    for value in reader.layered("Layers"):
        if not isinstance(value, list):
            raise reader.error("Layers must be a list of layer version ARNs.")
        for item in value:
            layer = reader.ctx.layers.get(item) if isinstance(item, str) else None
            if layer is None:
                if isinstance(item, str) and inputs.LAYER_ARN.fullmatch(item):
                    arns.append(item)
                else:
                    reader.warn(f"Layers: {as_text(item)} is not a layer ARN here; not listed.")
                continue
            if layer.broken:
                raise reader.error(f"Layers: {layer.logical_id} cannot be used: {layer.problem}")
            arns.append(layer.arn)
            if layer.config is not None:
                dirs.append(layer.config.content_dir)
            else:
                reader.warn(f"Layers: {layer.logical_id} is not mounted: {layer.problem}")
    try:
        inputs.check_layers(tuple(arns))
    except ServiceError as exc:
        raise reader.error(exc.message) from exc
    _check_one_version_each(reader, arns)
    return tuple(arns), tuple(dirs)


def _check_one_version_each(reader: FunctionReader, arns: list[str]) -> None:
    """Lambda's rule (and words), which a layer in both Globals and the function breaks."""
    seen: dict[str, str] = {}
    for arn in arns:
        layer, _, version = arn.rpartition(":")
        key = layer if version.isdigit() else arn
        if key in seen:
            raise reader.error(
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {seen[key]} and {arn} are versions of the same layer."
            )
        seen[key] = arn
