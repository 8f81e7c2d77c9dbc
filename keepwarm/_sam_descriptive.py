"""A template function's descriptive properties: Description, Role, Architectures, Layers
(read by ``_sam_layers``), Tracing and Tags, as GetFunction reports them for the deployed
function.

Why lenient where ``_sam_function`` is strict: none of these changes how the code runs here, so
a value only a deployed stack knows (``!GetAtt Role.Arn``) is left out with a warning instead
of stopping the function; only a value Lambda itself would refuse is an error. SAM's rules
apply: a map (Tags) merges with Globals key by key, and SAM tags what it creates
``lambda:createdBy: SAM``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from keepwarm._cfn import as_text
from keepwarm.config import Descriptive
from keepwarm.errors import ServiceError
from keepwarm.registry import inputs

if TYPE_CHECKING:
    from keepwarm._sam_function import FunctionReader

_SERVERLESS = "AWS::Serverless::Function"
_CREATED_BY = "lambda:createdBy"
_TRACING = {"Active": "Active", "PassThrough": "PassThrough", "Disabled": "PassThrough"}


def read_descriptive(reader: FunctionReader, layers: tuple[str, ...]) -> Descriptive:
    serverless = reader.resource.get("Type") == _SERVERLESS
    try:
        return Descriptive(
            description=_description(reader),
            role=_role(reader),
            architectures=_architectures(reader),
            layers=layers,
            tracing_mode=_tracing(reader, serverless),
            tags=_tags(reader, serverless),
        )
    except ServiceError as exc:
        raise reader.error(exc.message) from exc


def _description(reader: FunctionReader) -> str:
    value = reader.first("Description")
    text = "" if value is None else as_text(value)
    inputs.check_description(text)
    return text


def _role(reader: FunctionReader) -> str | None:
    """A literal role ARN; SAM's generated role (no Role) or a resource's has no ARN here."""
    value = reader.first("Role")
    if isinstance(value, str) and re.fullmatch(inputs.ROLE_PATTERN, value):
        return value
    return None


def _architectures(reader: FunctionReader) -> tuple[str, ...]:
    value = reader.first("Architectures")
    return ("x86_64",) if value is None else inputs.architectures(value)


def _tracing(reader: FunctionReader, serverless: bool) -> str:
    if serverless:
        mode = reader.first("Tracing")
    else:
        config = reader.first("TracingConfig")
        mode = config.get("Mode") if isinstance(config, dict) else None
    if mode is None:
        return "PassThrough"
    if mode not in _TRACING:
        raise reader.error(f"Tracing must be Active or PassThrough, got {mode!r}.")
    return _TRACING[mode]


def _tags(reader: FunctionReader, serverless: bool) -> dict[str, str]:
    merged: dict[str, str] = {}
    for value in reader.layered("Tags"):
        merged.update(_tag_pairs(reader, value))
    if serverless:
        if _CREATED_BY in merged:  # SAM's own words
            raise reader.error(
                f"{_CREATED_BY} is a reserved Tag key name and cannot be set on your resource."
            )
        merged[_CREATED_BY] = "SAM"
    return inputs.check_tags(merged)


def _tag_pairs(reader: FunctionReader, value: Any) -> dict[str, str]:
    """SAM's map, or CloudFormation's list of ``{Key, Value}``."""
    if isinstance(value, dict):
        return {str(k): as_text(v) for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(t, dict) and "Key" in t for t in value):
        return {as_text(t["Key"]): as_text(t.get("Value")) for t in value}
    raise reader.error("Tags must be a mapping (or a list of Key/Value pairs).")
