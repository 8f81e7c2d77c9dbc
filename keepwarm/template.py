"""Function definitions, and the layers they use, from an AWS SAM / CloudFormation
``template.yaml``.

Why templates: the code people want to run locally is already described by one, so keepwarm reads
it as SAM would (Globals merged, intrinsics evaluated where the template alone decides them) and
validates every value through ``FunctionConfig``, so a template, the Python API and CreateFunction
reject the same values with Lambda's words. Whatever only a deployed stack knows (``!GetAtt``,
imports) becomes a readable placeholder plus a warning instead of a failure.

What is wrong with one function only (a missing CodeUri, a runtime keepwarm does not run, a
value Lambda refuses, a layer of the template it cannot use) is that function's problem:
``keep_broken`` returns it as a ``BrokenFunction`` beside the others, which is how ``keepwarm
serve`` reads a template, as ``sam local start-api``/``start-lambda`` serve the functions they
can; ``Template.usable`` is how the readers that run functions (``keepwarm invoke``, the Python
API, ``audit --replay``, ``demo``) then refuse only the function asked for. What concerns the
template as a whole (YAML, its shape, two functions with one name, nothing in it that runs)
always refuses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm._cfn import (
    FUNCTION_TYPES,
    Resolver,
    read_document,
    template_file,
)
from keepwarm._sam_function import FunctionReader, ReadContext, Unsupported
from keepwarm._sam_layers import read_layers
from keepwarm._sam_urls import TemplateUrl, read_urls
from keepwarm.config import DEFAULT_REGION, FunctionConfig, LayerConfig, check_function_name
from keepwarm.errors import BadFunction, ServiceError, TemplateError

log = logging.getLogger("keepwarm.template")

_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(FunctionConfig))


@dataclass(frozen=True)
class BrokenFunction:
    """A function of the template that cannot run, and why, in Lambda's terms (its StateReason
    and StateReasonCode). ``name`` is None when neither its FunctionName nor its logical id is
    a valid function name to list it under."""

    logical_id: str
    name: str | None
    reason: str
    reason_code: str
    runtime: str = ""  # as the template says, "" when unreadable: GetFunction shows them
    handler: str = ""
    unsupported: bool = False  # valid on Lambda, not run by keepwarm (an image, Java...)

    def describe(self, state: str = "State: Failed") -> str:
        """How the server reports it (once at start, and when a reload changes it), and, with
        ``state`` "skipped", the readers that run the template's other functions."""
        label = self.name or self.logical_id
        if self.name is not None and self.name != self.logical_id:
            label = f"{self.name} ({self.logical_id} in the template)"
        return f"keepwarm: function {label} cannot run ({state}): {self.reason}"

    def error(self) -> BadFunction:
        """What asking to run it raises; the strict reader refuses the template with it."""
        return BadFunction(self.logical_id, self.reason, self.reason_code)


@dataclass(frozen=True)
class Template:
    """A loaded template: its functions, its layers whose content is local (the ones the
    functions get at /opt), and every value that was only approximated locally."""

    path: Path
    functions: list[FunctionConfig]
    warnings: list[str] = field(default_factory=list)
    logical_ids: dict[str, str] = field(default_factory=dict)  # logical id -> FunctionName
    broken: list[BrokenFunction] = field(default_factory=list)  # only with ``keep_broken``
    layers: list[LayerConfig] = field(default_factory=list)
    urls: list[TemplateUrl] = field(default_factory=list)  # FunctionUrlConfig, AWS::Lambda::Url

    def name_for(self, requested: str) -> str:
        """The FunctionName ``requested`` stands for: itself, or the FunctionName of a logical
        id (as ``sam local invoke`` accepts); unknown names come back unchanged."""
        named = [f.name for f in self.functions] + [b.name for b in self.broken]
        if requested in named:
            return requested
        return self.logical_ids.get(requested, requested)

    def log_warnings(self) -> None:
        for warning in self.warnings:
            log.warning("%s", warning)

    def failed(self, requested: str) -> BrokenFunction | None:
        """The function that cannot run that ``requested`` names, as ``name_for`` reads it."""
        name = self.name_for(requested)
        if any(f.name == name for f in self.functions):
            return None
        for broken in self.broken:
            if broken.name == name or (broken.name is None and broken.logical_id == requested):
                return broken
        return None

    def usable(self, *wanted: str) -> Template:
        """The template (read with ``keep_broken``) for a reader that runs ``wanted`` or, without
        names, any of its functions: a wanted function that cannot run raises its own error,
        and a template of which no function runs raises what the strict reader raises (a
        Globals error every function inherits is the template's); else its warnings are
        logged, with one line per function that cannot run."""
        for name in wanted:
            broken = self.failed(name)
            if broken is not None:
                raise broken.error()
        if not self.functions:
            first = next((b for b in self.broken if not b.unsupported), None)
            if first is not None:
                raise first.error()
            raise _nothing_runs(self.path, [str(b.error()) for b in self.broken])
        self.log_warnings()
        for broken in self.broken:
            log.warning("%s", broken.describe("skipped"))
        return self


def load_template(
    path: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    build_dir: Path | None = None,
) -> list[FunctionConfig]:
    """The template's functions; warnings go to the ``keepwarm.template`` logger. Strict: a
    function that cannot run refuses the template (one keepwarm does not run, an image or
    Java, is skipped with a warning), where ``Runtime(template=...)`` runs the others.

    ``overrides`` sets ``FunctionConfig`` fields on every function (e.g. ``{"keep_alive_s": 5}``);
    ``parameters`` overrides template Parameters, like ``sam --parameter-overrides``.
    """
    loaded = read_template(
        path, overrides=overrides, parameters=parameters, region=region, build_dir=build_dir
    )
    loaded.log_warnings()
    return loaded.functions


def read_template(
    path: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    build_dir: Path | None = None,
    keep_broken: bool = False,
) -> Template:
    """Like ``load_template`` but returns the warnings instead of logging them.

    With ``keep_broken``, a function that cannot run is returned in ``broken`` (unsupported
    ones too, instead of being skipped) rather than refusing the whole template.
    """
    file = template_file(Path(path))
    document = read_document(file)
    resources = document.get("Resources")
    if not isinstance(resources, dict):
        raise TemplateError(f"Template {file} has no Resources mapping.")
    unknown = set(overrides or {}) - _CONFIG_FIELDS
    if unknown:
        raise TemplateError(f"Unknown override(s) {sorted(unknown)}; use FunctionConfig fields.")
    context = ReadContext(
        file=file,
        document=document,
        resolver=Resolver(document, region=region, parameters=dict(parameters or {})),
        build_dir=build_dir or file.parent / ".keepwarm" / "inline",
        overrides=dict(overrides or {}),
    )
    context.warnings.extend(_undeclared(document, parameters or {}))
    _name_the_unnamed(resources, context.resolver)
    context.layers = read_layers(resources, context)
    read, skipped, broken = _read_functions(resources, context, keep_broken)
    functions = list(read.values())
    if not functions and not broken:
        raise _nothing_runs(file, skipped)
    _check_unique_names([c.name for c in functions] + [b.name for b in broken if b.name])
    names = {logical_id: config.name for logical_id, config in read.items()}
    names |= {b.logical_id: b.name for b in broken if b.name}
    layers = [layer.config for layer in context.layers.values() if layer.config is not None]
    urls = read_urls(resources, context, read)
    warnings = list(dict.fromkeys(context.warnings))
    return Template(file, functions, warnings, names, broken, layers, urls)


def _nothing_runs(file: Path, reasons: list[str]) -> TemplateError:
    said = "".join(f" {reason}" for reason in reasons)
    return TemplateError(
        f"Template {file} defines no AWS::Serverless::Function or AWS::Lambda::Function "
        f"that keepwarm can run.{said}"
    )


def _undeclared(document: dict[str, Any], parameters: Mapping[str, Any]) -> list[str]:
    """Overrides of Parameters the template does not declare: accepted, as ``sam local`` accepts
    them (``sam deploy`` would not), but a typo in a name would otherwise go unnoticed."""
    declared = document.get("Parameters")
    names = declared if isinstance(declared, dict) else {}
    return [
        f"Parameter {name} is overridden but the template declares no such parameter."
        for name in parameters
        if name not in names
    ]


def _read_functions(
    resources: dict[str, Any], context: ReadContext, keep_broken: bool
) -> tuple[dict[str, FunctionConfig], list[str], list[BrokenFunction]]:
    """The runnable functions by logical id; the others (an image, a Java function) are skipped
    with a warning, as ``sam local invoke`` runs a template's other functions, or, with
    ``keep_broken``, returned as broken with every other function that cannot run."""
    read: dict[str, FunctionConfig] = {}
    skipped: list[str] = []
    broken: list[BrokenFunction] = []
    for logical_id, resource in resources.items():
        if not _is_function(str(logical_id), resource):
            continue
        try:
            config = FunctionReader(str(logical_id), resource, context).config()
        except BadFunction as exc:
            if keep_broken:
                broken.append(_broken(exc, resource, context))
                continue
            if not isinstance(exc, Unsupported):
                raise
            skipped.append(str(exc))
            context.warnings.append(f"{exc} Skipped.")
            continue
        if config is not None:
            read[str(logical_id)] = config
    return read, skipped, broken


def _broken(exc: BadFunction, resource: Any, context: ReadContext) -> BrokenFunction:
    runtime, handler = _runtime_and_handler(exc.logical_id, resource, context)
    name = _listed_name(exc.logical_id, context)
    unsupported = isinstance(exc, Unsupported)
    return BrokenFunction(
        exc.logical_id, name, exc.reason, exc.reason_code, runtime, handler, unsupported
    )


def _runtime_and_handler(logical_id: str, resource: Any, context: ReadContext) -> tuple[str, str]:
    """Its Runtime and Handler as the template gives them, "" where they cannot be read: what
    GetFunction shows of a function that cannot run, so that the problem can be told apart."""
    try:
        reader = FunctionReader(logical_id, resource, context)
    except BadFunction:
        return "", ""
    return _readable(reader, "Runtime"), _readable(reader, "Handler")


def _readable(reader: FunctionReader, key: str) -> str:
    try:
        return reader.text(key) or ""
    except BadFunction:
        return ""


def _listed_name(logical_id: str, context: ReadContext) -> str | None:
    """The name it would have had; its logical id when that name is not a valid one."""
    for name in (context.resolver.function_name(logical_id), logical_id):
        try:
            check_function_name(name)
        except ServiceError:
            continue
        return name
    return None


def _name_the_unnamed(resources: dict[str, Any], resolver: Resolver) -> None:
    """A function without FunctionName is named after its logical id, unless another function
    takes that name explicitly: then, as CloudFormation names it, ``keepwarm-<id>-<suffix>``."""
    ids = [str(i) for i, r in resources.items() if _is_function(str(i), r)]
    taken = {resolver.function_name(i) for i in ids if resolver.has_function_name(i)}
    for logical_id in ids:
        if not resolver.has_function_name(logical_id) and logical_id in taken:
            suffix = hashlib.sha1(logical_id.encode()).hexdigest()[:12].upper()
            resolver.name_unnamed(logical_id, f"keepwarm-{logical_id}-{suffix}")


def _is_function(logical_id: str, resource: Any) -> bool:
    if not isinstance(resource, dict):
        raise TemplateError(f"Resource {logical_id} must be a mapping.")
    return resource.get("Type") in FUNCTION_TYPES


def _check_unique_names(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TemplateError(f"Two functions in the template are named {name}.")
        seen.add(name)
