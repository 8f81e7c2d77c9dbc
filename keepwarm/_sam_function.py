"""Reading one function resource of a SAM / CloudFormation template into a ``FunctionConfig``.

Why apart from ``template``: that module finds the functions and checks them together; this
one knows SAM's rules for a single resource (its own properties over ``Globals.Function``,
intrinsics resolved where the template decides them, inline code written out, keepwarm's
``Metadata``), which is most of the detail and changes for its own reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm._cfn import NO_VALUE, Resolution, Resolver, as_text
from keepwarm._sam_descriptive import read_descriptive
from keepwarm._sam_layers import TemplateLayer, function_layers
from keepwarm.config import (
    FunctionConfig,
    LoggingConfig,
    check_function_name,
    check_runtime,
    runtime_family,
)
from keepwarm.errors import BadFunction, ServiceError
from keepwarm.lambda_runtimes import not_run

_SERVERLESS = "AWS::Serverless::Function"
_INLINE_SUFFIX = {"python": ".py", "node": ".js"}
_METADATA_FIELDS = {
    "keep_alive": "keep_alive_s",
    "max_lifetime": "max_lifetime_s",
    "check_leaks": "check_leaks",
    "reuse": "reuse",
    "max_invocations_per_env": "max_invocations_per_env",
    "snapshot": "snapshot",
    "network": "network",
}


@dataclass
class ReadContext:
    file: Path
    document: dict[str, Any]
    resolver: Resolver
    build_dir: Path
    overrides: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    layers: dict[str, TemplateLayer] = field(default_factory=dict)  # by version ARN

    def globals(self) -> dict[str, Any]:
        section = self.document.get("Globals")
        found = section.get("Function") if isinstance(section, dict) else None
        return found if isinstance(found, dict) else {}

    def keepwarm_defaults(self) -> dict[str, Any]:
        return _keepwarm_metadata(self.document)


def _keepwarm_metadata(node: Mapping[str, Any]) -> dict[str, Any]:
    metadata = node.get("Metadata")
    found = metadata.get("keepwarm") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


class Unsupported(BadFunction):
    """A function Lambda would run and keepwarm cannot: skipped with a warning (``keepwarm
    serve``: listed as Failed)."""


_LAMBDA_RUNTIME = re.compile(
    r"(java|dotnet|ruby|go|python|nodejs)[\d.]+(\.x|\.al2\d*)?|dotnetcore[\d.]+"
)


class FunctionReader:
    """One function resource read over its Globals, each property resolved when first needed."""

    def __init__(self, logical_id: str, resource: dict[str, Any], context: ReadContext) -> None:
        self.id = logical_id
        self.resource = resource
        self.ctx = context
        own = resource.get("Properties") or {}
        if not isinstance(own, dict):
            raise self.error("Properties must be a mapping.")
        self.scopes = [own]
        if resource.get("Type") == _SERVERLESS:
            self.scopes.append(context.globals())

    def error(self, message: str, reason_code: str = "InvalidConfiguration") -> BadFunction:
        return BadFunction(self.id, message, reason_code)

    def warn(self, message: str) -> None:
        self.ctx.warnings.append(f"Function {self.id}: {message}")

    def config(self) -> FunctionConfig | None:
        """The function, or None when its Condition is false; raises ``Unsupported`` for one
        that is valid on Lambda but not one keepwarm runs (an image, Java...)."""
        if not self._condition_holds():
            return None
        if self.first("PackageType") == "Image":
            raise Unsupported(
                self.id, "PackageType Image is not supported; keepwarm runs zip functions."
            )
        runtime = self.text("Runtime")
        if runtime is None:
            raise self.error("Runtime is required (on the function or in Globals.Function).")
        self._check_runtime(runtime)
        name = self.name()
        try:  # before anything is written under its name (inline code)
            check_function_name(name)
        except ServiceError as exc:
            raise self.error(exc.message) from exc
        handler = self.text("Handler") or ""
        layers, layer_dirs = function_layers(self)
        fields: dict[str, Any] = {
            "name": name,
            "runtime": runtime,
            "handler": handler,
            "code_dir": self.code_dir(name, runtime, handler),
            "memory_mb": self.number(("MemorySize",), 128),
            "timeout_s": self.number(("Timeout",), 3),
            "ephemeral_storage_mb": self.number(("EphemeralStorage", "Size"), 512),
            "reserved_concurrency": self.number(("ReservedConcurrentExecutions",), None),
            "provisioned_concurrency": self.number(
                ("ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions"), 0
            ),
            "environment": self.environment(),
            "logging": self.logging(),
            "event_invoke": self.event_invoke(name),
            "dead_letter_target": self.dead_letter_target(),
            "auto_publish_alias": self.text("AutoPublishAlias"),
            "descriptive": read_descriptive(self, layers),
            "layer_dirs": layer_dirs,
            **self.keepwarm_settings(),
            **self.ctx.overrides,
        }
        self._check_entrypoint(fields)
        try:
            return FunctionConfig(**fields)
        except ServiceError as exc:
            raise self.error(exc.message) from exc
        except (TypeError, ValueError) as exc:
            raise self.error(str(exc)) from exc

    def _check_runtime(self, runtime: str) -> None:
        try:
            check_runtime(runtime)
        except ServiceError as exc:
            if _LAMBDA_RUNTIME.fullmatch(runtime):
                raise Unsupported(self.id, not_run(runtime), "InvalidRuntime") from exc
            raise self.error(exc.message, "InvalidRuntime") from exc

    def _condition_holds(self) -> bool:
        condition = self.resource.get("Condition")
        if not isinstance(condition, str):
            return True
        truth = self.ctx.resolver.condition(condition)
        if truth is None:
            self.warn(f"condition {condition} cannot be evaluated locally; the function is kept.")
        return truth is not False

    def resolve(self, scope: dict[str, Any], key: str) -> Resolution | None:
        if key not in scope:
            return None
        resolution = self.ctx.resolver.resolve(scope[key], (key,))
        for guess in resolution.guesses:
            self.warn(f"{key}: {guess}")
        return None if resolution.value in (NO_VALUE, None) else resolution

    def first(self, key: str) -> Any:
        for scope in self.scopes:
            found = self.resolve(scope, key)
            if found is not None:
                return found.value
        return None

    def layered(self, key: str) -> Iterator[Any]:
        """A property's values, Globals' first, for SAM's merges (maps key by key, lists
        Globals' entries first)."""
        for scope in reversed(self.scopes):
            found = self.resolve(scope, key)
            if found is not None:
                yield found.value

    def text(self, key: str) -> str | None:
        """A string property (own value over Globals); unresolvable means unusable: an error."""
        for scope in self.scopes:
            found = self.resolve(scope, key)
            if found is None:
                continue
            if found.unresolved:
                raise self.error(f"{key} cannot be resolved locally: {_reasons(found)}.")
            if not isinstance(found.value, str):
                raise self.error(f"{key} must be a string, got {found.value!r}.")
            return found.value
        return None

    def name(self) -> str:
        found = self.resolve(self.scopes[0], "FunctionName")
        if found is None:
            return self.ctx.resolver.function_name(self.id)
        if found.unresolved or not isinstance(found.value, str):
            self.warn(
                f"FunctionName cannot be resolved locally ({_reasons(found)}); using {self.id}."
            )
            return self.id
        return found.value

    def number(self, keys: tuple[str, ...], default: int | None) -> int | None:
        """An integer property; an unresolvable value falls back to Globals, then to Lambda's
        default, because a guessed size must not stop the code from running."""
        label, skipped = ".".join(keys), list[str]()
        for where, scope in zip(("", " from Globals"), self.scopes, strict=False):
            found = self.resolve(scope, keys[0])
            if found is None:
                continue
            missing = [
                u.what for u in found.unresolved if u.path[: len(keys)] == keys[: len(u.path)]
            ]
            if missing:
                skipped.extend(missing)
                continue
            value = _dig(found.value, keys[1:])
            if value is None:
                continue
            number = self._integer(label, value)
            if skipped:
                self.warn(
                    f"{label} cannot be resolved locally ({'; '.join(skipped)}); "
                    f"using {number}{where}."
                )
            return number
        if skipped:
            self.warn(
                f"{label} cannot be resolved locally ({'; '.join(skipped)}); "
                f"using Lambda's default {default}."
            )
        return default

    def _integer(self, label: str, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise self.error(f"{label} must be an integer, got {value!r}.")

    def event_invoke(self, name: str) -> dict[str, object] | None:
        """SAM's ``EventInvokeConfig``, as PutFunctionEventInvokeConfig would take it. A
        destination only a deployed stack knows (``!GetAtt Queue.Arn``) stays a placeholder:
        records for it go to the local dead-letter store under that name."""
        value = self.first("EventInvokeConfig")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error("EventInvokeConfig must be a mapping.")
        out: dict[str, object] = {
            "MaximumRetryAttempts": self._bounded(value, "MaximumRetryAttempts", 0, 2),
            "MaximumEventAgeInSeconds": self._bounded(value, "MaximumEventAgeInSeconds", 60, 21600),
        }
        destinations = value.get("DestinationConfig") or {}
        if not isinstance(destinations, dict):
            raise self.error("EventInvokeConfig.DestinationConfig must be a mapping.")
        targets: dict[str, dict[str, str]] = {
            key: {"Destination": as_text(dest["Destination"])}
            if isinstance(dest := destinations.get(key), dict) and dest.get("Destination")
            else {}
            for key in ("OnSuccess", "OnFailure")
        }
        for target in targets.values():
            if target.get("Destination", "").partition(":function:")[2].split(":")[0] == name:
                raise self.error("a function cannot be its own destination (EventInvokeConfig).")
        out["DestinationConfig"] = targets
        return out

    def _bounded(self, value: dict[str, Any], key: str, low: int, high: int) -> int | None:
        if value.get(key) is None:
            return None
        number = self._integer(f"EventInvokeConfig.{key}", value[key])
        if not low <= number <= high:
            raise self.error(f"EventInvokeConfig.{key} must be between {low} and {high}.")
        return number

    def dead_letter_target(self) -> str | None:
        """SAM's ``DeadLetterQueue.TargetArn`` or CloudFormation's ``DeadLetterConfig``."""
        for key in ("DeadLetterQueue", "DeadLetterConfig"):
            value = self.first(key)
            if isinstance(value, dict) and value.get("TargetArn"):
                return as_text(value["TargetArn"])
        return None

    def logging(self) -> LoggingConfig:
        """Globals' LoggingConfig and the function's merged member by member, as SAM merges
        maps (the function's members win)."""
        merged: dict[str, Any] = {}
        for value in self.layered("LoggingConfig"):
            if not isinstance(value, dict):
                raise self.error("LoggingConfig must be a mapping.")
            merged.update(value)
        try:
            return LoggingConfig.from_shape(merged)
        except ServiceError as exc:
            raise self.error(exc.message) from exc

    def environment(self) -> dict[str, str]:
        """Variables of Globals and the function merged key by key, as SAM merges them."""
        merged: dict[str, tuple[str, list[str]]] = {}
        for scope in reversed(self.scopes):
            found = self.resolve(scope, "Environment")
            variables = _dig(found.value, ("Variables",)) if found else None
            if variables is None:
                continue
            if not isinstance(variables, dict):
                raise self.error("Environment.Variables must be a mapping.")
            for key in _dropped(scope, variables):  # !Ref AWS::NoValue removes a global one
                merged.pop(key, None)
            for key, value in variables.items():
                notes = [
                    f"{u.what} cannot be resolved locally; using {u.placeholder!r}"
                    for u in (found.unresolved if found else [])
                    if u.path[:3] == ("Environment", "Variables", key)
                ]
                merged[str(key)] = (as_text(value), notes)
        for key, (_, notes) in merged.items():
            for note in notes:
                self.warn(f"Environment.Variables.{key}: {note}.")
        return {key: value for key, (value, _) in merged.items()}

    def code_dir(self, name: str, runtime: str, handler: str) -> Path:
        if self.resource.get("Type") == _SERVERLESS:
            inline = self.first("InlineCode")
            location = self.first("CodeUri")
        else:
            code = self.first("Code")
            inline = code.get("ZipFile") if isinstance(code, dict) else None
            location = code if isinstance(code, str) or inline is None else None
            if code is None:
                raise self.error("Code is required.")
        if inline is not None:
            return self._write_inline(name, runtime, handler, as_text(inline))
        if location is None:
            return self.ctx.file.parent
        if not isinstance(location, str) or location.startswith("s3://"):
            raise self.error(
                f"code location {location!r} is not a local path; S3 and image code "
                "are not supported locally."
            )
        path = (self.ctx.file.parent / location).resolve()
        if not path.exists():
            raise self.error(f"CodeUri {location!r} does not exist (looked for {path}).")
        if not path.is_dir():
            raise self.error(f"CodeUri {location!r} is a file; keepwarm needs a directory.")
        return path

    def _write_inline(self, name: str, runtime: str, handler: str, source: str) -> Path:
        """Inline code goes to a stable directory so that an unchanged template reuses it."""
        suffix = _INLINE_SUFFIX.get(runtime_family(runtime))
        module = handler.rsplit(".", 1)[0] if "." in handler else "index"
        parts = re.split(r"[./]", module)
        if suffix is None or not all(parts):
            raise self.error(
                f"inline code needs a Python or Node.js runtime and a handler "
                f"like index.handler (got {runtime!r}, {handler!r})."
            )
        directory = self.ctx.build_dir / name
        target = directory.joinpath(*parts[:-1], parts[-1] + suffix)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file() or target.read_text(encoding="utf-8") != source:
                target.write_text(source, encoding="utf-8")
        except OSError as exc:
            raise self.error(f"cannot write inline code to {target}: {exc}") from exc
        return directory

    def keepwarm_settings(self) -> dict[str, Any]:
        """``Metadata.keepwarm`` of the template (defaults) and of the function."""
        raw = self.ctx.keepwarm_defaults() | _keepwarm_metadata(self.resource)
        settings: dict[str, Any] = {}
        for key, node in raw.items():
            target = _METADATA_FIELDS.get(str(key).removesuffix("_s"))
            if target is None:
                known = ", ".join(_METADATA_FIELDS)
                raise self.error(f"unknown Metadata.keepwarm key {key!r} (known: {known}).")
            value = self.ctx.resolver.resolve(node, ("Metadata", "keepwarm", key)).value
            settings[target] = self._coerce_setting(str(key), target, value)
        return settings

    def _coerce_setting(self, key: str, target: str, value: Any) -> Any:
        if target in ("check_leaks", "snapshot"):
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if isinstance(value, bool):
                return value
            raise self.error(f"Metadata.keepwarm.{key} must be true or false, got {value!r}.")
        if target in ("reuse", "network"):
            return as_text(value)
        if target == "max_invocations_per_env":
            return None if value is None else self._integer(f"Metadata.keepwarm.{key}", value)
        try:
            return None if value is None else float(value)
        except (TypeError, ValueError):
            raise self.error(f"Metadata.keepwarm.{key} must be seconds, got {value!r}.") from None

    def _check_entrypoint(self, fields: dict[str, Any]) -> None:
        if runtime_family(fields["runtime"]) == "custom":
            if not (Path(fields["code_dir"]) / "bootstrap").is_file():
                self.warn(f"runtime {fields['runtime']} needs a bootstrap file in its code.")
        elif not fields["handler"]:
            raise self.error(f"Handler is required for runtime {fields['runtime']}.")


def _dropped(scope: dict[str, Any], resolved: dict[str, Any]) -> list[str]:
    """Variables a scope names that resolved to nothing (``!Ref AWS::NoValue``, an ``!If``
    branch of it)."""
    given = _dig(scope.get("Environment"), ("Variables",))
    if not isinstance(given, dict):
        return []
    return [str(key) for key in given if key not in resolved]


def _dig(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return None if value is NO_VALUE else value


def _reasons(found: Resolution) -> str:
    return "; ".join(u.what for u in found.unresolved)
