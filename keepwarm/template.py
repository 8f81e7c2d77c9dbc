"""Function definitions from an AWS SAM / CloudFormation ``template.yaml``.

Why templates: the code people want to run locally is already described by one, so keepwarm reads
it as SAM would (Globals merged, intrinsics evaluated where the template alone decides them) and
validates every value through ``FunctionConfig``, so a template, the Python API and CreateFunction
reject the same values with Lambda's words. Whatever only a deployed stack knows (``!GetAtt``,
imports) becomes a readable placeholder plus a warning instead of a failure.

What is wrong with one function only (a missing CodeUri, a runtime keepwarm does not run, a
value Lambda refuses) is that function's problem: ``keep_broken`` returns it as a
``BrokenFunction`` beside the others, which is how ``keepwarm serve`` reads a template, as
``sam local start-api``/``start-lambda`` serve the functions they can. What concerns the template
as a whole (YAML, its shape, two functions with one name) always refuses it.
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
from keepwarm.config import DEFAULT_REGION, FunctionConfig, check_function_name
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

    def describe(self) -> str:
        """How the server reports it: once at start, and when a reload changes it."""
        label = self.name or self.logical_id
        if self.name is not None and self.name != self.logical_id:
            label = f"{self.name} ({self.logical_id} in the template)"
        return f"keepwarm: function {label} cannot run (State: Failed): {self.reason}"


@dataclass(frozen=True)
class Template:
    """A loaded template: its functions, and every value that was only approximated locally."""

    path: Path
    functions: list[FunctionConfig]
    warnings: list[str] = field(default_factory=list)
    logical_ids: dict[str, str] = field(default_factory=dict)  # logical id -> FunctionName
    broken: list[BrokenFunction] = field(default_factory=list)  # only with ``keep_broken``

    def name_for(self, requested: str) -> str:
        """The FunctionName ``requested`` stands for: itself, or the FunctionName of a logical
        id (as ``sam local invoke`` accepts); unknown names come back unchanged."""
        if any(f.name == requested for f in self.functions):
            return requested
        return self.logical_ids.get(requested, requested)

    def log_warnings(self) -> None:
        for warning in self.warnings:
            log.warning("%s", warning)


def load_template(
    path: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    build_dir: Path | None = None,
) -> list[FunctionConfig]:
    """The template's functions; warnings go to the ``keepwarm.template`` logger.

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
    read, skipped, broken = _read_functions(resources, context, keep_broken)
    functions = list(read.values())
    if not functions and not broken:
        reasons = "".join(f" {reason}" for reason in skipped)
        raise TemplateError(
            f"Template {file} defines no AWS::Serverless::Function or AWS::Lambda::Function "
            f"that keepwarm can run.{reasons}"
        )
    _check_unique_names([c.name for c in functions] + [b.name for b in broken if b.name])
    names = {logical_id: config.name for logical_id, config in read.items()}
    names |= {b.logical_id: b.name for b in broken if b.name}
    return Template(file, functions, list(dict.fromkeys(context.warnings)), names, broken)


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
                broken.append(_broken(exc, context))
                continue
            if not isinstance(exc, Unsupported):
                raise
            skipped.append(str(exc))
            context.warnings.append(f"{exc} Skipped.")
            continue
        if config is not None:
            read[str(logical_id)] = config
    return read, skipped, broken


def _broken(exc: BadFunction, context: ReadContext) -> BrokenFunction:
    """The name it would have had; its logical id when that name is not a valid one."""
    for name in (context.resolver.function_name(exc.logical_id), exc.logical_id):
        try:
            check_function_name(name)
        except ServiceError:
            continue
        return BrokenFunction(exc.logical_id, name, exc.reason, exc.reason_code)
    return BrokenFunction(exc.logical_id, None, exc.reason, exc.reason_code)


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
