"""A template's function URLs: SAM's ``FunctionUrlConfig`` and CloudFormation's
``AWS::Lambda::Url``, read into what the registry makes at start-up.

Why apart from the function reader: a URL is a resource of its own (SAM expands
``FunctionUrlConfig`` into ``<LogicalId>Url``, an ``AWS::Lambda::Url`` whose target is the
function, or its ``AutoPublishAlias`` alias), and a URL that cannot be made locally costs a
warning, never the function. Values are checked by the registry's rules (``url_rules``), so a
template and CreateFunctionUrlConfig refuse the same ones with the same words; only their types
are checked here, as SAM checks ``Cors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keepwarm._cfn import NO_VALUE, as_text
from keepwarm._sam_function import ReadContext
from keepwarm.config import FunctionConfig
from keepwarm.errors import ServiceError
from keepwarm.registry.names import parse_function

URL_TYPE = "AWS::Lambda::Url"
_SERVERLESS = "AWS::Serverless::Function"
_CORS_TYPES: dict[str, type] = {
    "AllowOrigins": list,
    "AllowMethods": list,
    "AllowCredentials": bool,
    "AllowHeaders": list,
    "ExposeHeaders": list,
    "MaxAge": int,
}


@dataclass(frozen=True)
class TemplateUrl:
    """A function URL the template defines; its values as the template gives them."""

    logical_id: str
    function: str
    qualifier: str | None
    auth_type: Any
    cors: dict[str, Any] | None = None
    invoke_mode: Any = None

    @property
    def label(self) -> str:
        target = f"{self.function}:{self.qualifier}" if self.qualifier else self.function
        return f"{self.logical_id} (the function URL of {target})"


class _Skip(Exception):
    """This URL cannot be made locally; the message says why."""


def read_urls(
    resources: dict[str, Any], context: ReadContext, functions: dict[str, FunctionConfig]
) -> list[TemplateUrl]:
    """The URLs of the template's runnable ``functions`` (by logical id) and its
    ``AWS::Lambda::Url`` resources; each one that cannot be read is a warning."""
    urls: list[TemplateUrl] = []
    for logical_id, resource in resources.items():
        try:
            url = _read_one(str(logical_id), resource, context, functions)
        except _Skip as exc:
            context.warnings.append(f"{logical_id}: no function URL: {exc}")
            continue
        if url is not None:
            urls.append(url)
    return urls


def _read_one(
    logical_id: str, resource: Any, context: ReadContext, functions: dict[str, FunctionConfig]
) -> TemplateUrl | None:
    kind = resource.get("Type") if isinstance(resource, dict) else None
    if kind == _SERVERLESS and logical_id in functions:
        return _from_function(logical_id, resource, context, functions[logical_id])
    if kind == URL_TYPE and _condition_holds(resource, context):
        return _from_url_resource(logical_id, resource, context)
    return None


def _from_function(
    logical_id: str, resource: dict[str, Any], context: ReadContext, config: FunctionConfig
) -> TemplateUrl | None:
    """SAM's ``FunctionUrlConfig``, the function's over Globals' (maps merged key by key); with
    ``AutoPublishAlias`` the URL is the alias's, as SAM targets the alias."""
    merged: dict[str, Any] = {}
    for scope in (context.globals(), resource.get("Properties") or {}):
        value = _resolved(scope.get("FunctionUrlConfig"), context, "FunctionUrlConfig")
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _Skip("FunctionUrlConfig must be a mapping.")
        merged.update(value)
    if not merged:
        return None
    if merged.get("AuthType") not in ("AWS_IAM", "NONE"):
        raise _Skip(
            "AuthType is required to configure function property `FunctionUrlConfig`. "
            "Please provide either AWS_IAM or NONE."
        )
    return TemplateUrl(
        f"{logical_id}Url",
        config.name,
        config.auto_publish_alias,
        merged["AuthType"],
        _cors(merged.get("Cors")),
        merged.get("InvokeMode"),
    )


def _from_url_resource(
    logical_id: str, resource: dict[str, Any], context: ReadContext
) -> TemplateUrl:
    props = _resolved(resource.get("Properties"), context, "Properties")
    if not isinstance(props, dict):
        raise _Skip("Properties must be a mapping.")
    target = props.get("TargetFunctionArn")
    if not isinstance(target, str):
        raise _Skip("TargetFunctionArn is required (a function's name or ARN).")
    try:
        ref = parse_function(target, as_text(props["Qualifier"]) if "Qualifier" in props else None)
    except ServiceError as exc:
        raise _Skip(f"TargetFunctionArn {target!r}: {exc.message}") from None
    return TemplateUrl(
        logical_id,
        ref.name,
        ref.qualifier,
        props.get("AuthType"),
        _cors(props.get("Cors")),
        props.get("InvokeMode"),
    )


def _resolved(node: Any, context: ReadContext, what: str) -> Any:
    """``node`` with its intrinsics evaluated; one only a deployed stack knows (an alias
    resource's ``!Ref``, say) makes the URL unusable here."""
    if node is None:
        return None
    found = context.resolver.resolve(node, (what,))
    if found.unresolved:
        reasons = "; ".join(u.what for u in found.unresolved)
        raise _Skip(f"{what} cannot be resolved locally: {reasons}.")
    return None if found.value is NO_VALUE else found.value


def _cors(value: Any) -> dict[str, Any] | None:
    """SAM's checks of ``Cors``: a mapping of the six members, each of its type."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Skip("FunctionUrlConfig.Cors must be a mapping.")
    for name, item in value.items():
        kind = _CORS_TYPES.get(name)
        if kind is None:
            raise _Skip(f"{name} is not a valid property for configuring Cors.")
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            raise _Skip(f"{name} must be of type {kind.__name__}.")
        if isinstance(item, list) and not all(isinstance(x, str) for x in item):
            raise _Skip(f"{name} must be a list of strings.")
    return dict(value)


def _condition_holds(resource: dict[str, Any], context: ReadContext) -> bool:
    condition = resource.get("Condition")
    return not isinstance(condition, str) or context.resolver.condition(condition) is not False
