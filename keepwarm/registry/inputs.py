"""CreateFunction / UpdateFunction* request bodies → validated ``FunctionSpec`` changes.

Why separate from the service: these are Lambda's input rules (which member is required, what
a missing value defaults to, which words reject a bad one); the service only sequences effects.
Value ranges are checked by ``FunctionConfig`` so a template, the Python API and the HTTP API
reject the same things with the same messages.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from pathlib import Path
from typing import Any

from keepwarm.config import FunctionConfig, LoggingConfig, constraint
from keepwarm.errors import InvalidParameterValue, ValidationError

ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
ARCHITECTURES = ("x86_64", "arm64")
LAYER_ARN = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
)


def require(body: dict[str, Any], key: str, field: str) -> Any:
    value = body.get(key)
    if value is None:
        raise constraint(None, field, "not be null")
    return value


def check_role(role: str) -> None:
    if not isinstance(role, str) or not re.fullmatch(ROLE_PATTERN, role):
        raise constraint(role, "role", f"satisfy regular expression pattern: {ROLE_PATTERN}")


def zip_bytes(code: Any) -> bytes:
    """``Code.ZipFile`` (base64 in JSON); S3 and image sources are not available locally."""
    if not isinstance(code, dict):
        raise InvalidParameterValue("Code must be an object with a ZipFile member.")
    if code.get("ImageUri"):
        raise InvalidParameterValue("keepwarm runs Zip packages only; ImageUri is not supported.")
    if code.get("S3Bucket") or code.get("S3Key"):
        raise InvalidParameterValue(
            "keepwarm has no S3: upload the package as Code.ZipFile instead of S3Bucket/S3Key."
        )
    raw = code.get("ZipFile")
    if not isinstance(raw, str) or not raw:
        raise InvalidParameterValue("Please provide a source for function code.")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterValue(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from exc


def config_changes(body: dict[str, Any]) -> dict[str, Any]:
    """FunctionSpec fields named by a request body (only those present)."""
    out: dict[str, Any] = {}
    simple = {
        "Handler": "handler",
        "Runtime": "runtime",
        "Role": "role",
        "Description": "description",
        "Timeout": "timeout",
        "MemorySize": "memory",
    }
    for key, attr in simple.items():
        if body.get(key) is not None:
            out[attr] = body[key]
    if "Environment" in body:
        variables = (body.get("Environment") or {}).get("Variables") or {}
        out["environment"] = {str(k): str(v) for k, v in variables.items()}
    if body.get("EphemeralStorage") is not None:
        out["ephemeral_storage"] = require(
            body["EphemeralStorage"], "Size", "ephemeralStorage.size"
        )
    if body.get("DeadLetterConfig") is not None:
        out["dead_letter_target"] = _dead_letter_target(body["DeadLetterConfig"].get("TargetArn"))
    if body.get("TracingConfig") is not None:
        out["tracing_mode"] = _tracing_mode(body["TracingConfig"].get("Mode"))
    if body.get("Layers") is not None:
        out["layers"] = tuple(body["Layers"])
    if body.get("Architectures") is not None:
        out["architectures"] = architectures(body["Architectures"])
    if body.get("LoggingConfig") is not None:
        given = {k: v for k, v in body["LoggingConfig"].items() if v is not None}
        out["logging_config"] = {str(k): str(v) for k, v in given.items()}
    return out


DEAD_LETTER_PATTERN = r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"


def _dead_letter_target(arn: str | None) -> str | None:
    if arn is not None and not re.fullmatch(DEAD_LETTER_PATTERN, arn):
        raise constraint(
            arn,
            "deadLetterConfig.targetArn",
            f"satisfy regular expression pattern: {DEAD_LETTER_PATTERN}",
        )
    return arn or None


def _tracing_mode(mode: str | None) -> str:
    if mode is not None and mode not in ("Active", "PassThrough"):
        raise constraint(
            mode, "tracingConfig.mode", "satisfy enum value set: [Active, PassThrough]"
        )
    return mode or "PassThrough"


def merged_logging(old: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """UpdateFunctionConfiguration changes the LoggingConfig members it names; going back to
    Text drops the levels, which only JSON has."""
    merged = {**old, **given}
    if merged.get("LogFormat", "Text") == "Text":
        for key in ("ApplicationLogLevel", "SystemLogLevel"):
            if key not in given:
                merged.pop(key, None)
    return merged


def architectures(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) != 1 or value[0] not in ARCHITECTURES:
        raise constraint(
            value, "architectures", "satisfy enum value set: [x86_64, arm64] and have length 1"
        )
    return (str(value[0]),)


def check_layers(layers: tuple[str, ...]) -> None:
    """Layer ARNs are recorded, not run; a malformed one is refused as Lambda refuses it."""
    if any(
        not (isinstance(arn, str) and LAYER_ARN.fullmatch(arn) and len(arn) <= 2048)
        for arn in layers
    ):
        raise constraint(
            f"[{', '.join('null' if arn is None else str(arn) for arn in layers)}]",
            "layers",
            "satisfy constraint: [Member must have length less than or equal to 2048, Member "
            "must have length greater than or equal to 1, Member must satisfy regular expression "
            f"pattern: {LAYER_ARN.pattern}]",
        )
    if len(layers) > 5:
        raise InvalidParameterValue("Cannot reference more than 5 layers.")


TAG_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"
_TAG_MARKS = frozenset("_.:/=+-@")


def _tag_text(text: object, low: int, high: int) -> bool:
    """Within Lambda's TagKey/TagValue shapes: bounded, letters, spaces, digits, ``_.:/=+-@``."""
    return (
        isinstance(text, str)
        and low <= len(text) <= high
        and all(ch in _TAG_MARKS or unicodedata.category(ch)[0] in "LZN" for ch in text)
    )


def _tag_rules(high: int, low: int) -> str:
    return (
        f"[Member must have length less than or equal to {high}, Member must have length "
        f"greater than or equal to {low}, Member must satisfy regular expression pattern: "
        f"{TAG_PATTERN}]"
    )


TAG_LIMIT = 50  # tags on one function, counted after a TagResource merges its tags in
RESERVED_TAG_PREFIX = "aws:"  # any case


def check_tag_count(tags: dict[str, str]) -> None:
    if len(tags) > TAG_LIMIT:
        raise InvalidParameterValue("Number of tags exceeds resource tag limit.")


def check_tags(tags: dict[str, Any]) -> dict[str, str]:
    """Tags as Lambda's model bounds them (keys 1-128, values up to 256 characters), then
    as its service does: no ``aws:`` key (AWS's own tags), at most ``TAG_LIMIT``."""
    shown = "{" + ", ".join(f"{k}={'null' if v is None else v}" for k, v in tags.items()) + "}"
    for part, ok, rules in (
        ("keys", all(_tag_text(k, 1, 128) for k in tags), _tag_rules(128, 1)),
        ("value", all(_tag_text(v, 0, 256) for v in tags.values()), _tag_rules(256, 0)),
    ):
        if not ok:
            raise ValidationError(
                f"1 validation error detected: Value '{shown}' at 'tags' failed to satisfy "
                f"constraint: Map {part} must satisfy constraint: {rules}"
            )
    reserved = [k for k in tags if k.lower().startswith(RESERVED_TAG_PREFIX)]
    if reserved:
        raise InvalidParameterValue(
            f"Tag keys starting with '{RESERVED_TAG_PREFIX}' are reserved for AWS use: "
            f"{reserved[0]}."
        )
    checked = {str(k): str(v) for k, v in tags.items()}
    check_tag_count(checked)
    return checked


def check_tag_keys(keys: list[str]) -> None:
    if not all(_tag_text(k, 1, 128) for k in keys):
        raise constraint(
            f"[{', '.join(keys)}]", "tagKeys", f"satisfy constraint: {_tag_rules(128, 1)}"
        )


def check_description(description: str) -> None:
    if len(description) > 256:
        raise constraint(description, "description", "have length less than or equal to 256")


def validate(fields: dict[str, Any], scratch_dir: Path) -> None:
    """Run Lambda's value checks (through FunctionConfig) before anything is written."""
    check_description(fields.get("description", ""))
    if "role" in fields:
        check_role(fields["role"])
    check_layers(fields.get("layers", ()))
    for key in ("timeout", "memory", "ephemeral_storage"):
        if key in fields and not isinstance(fields[key], int):
            raise constraint(fields[key], key, "be an integer")
    FunctionConfig(
        name=fields["name"],
        handler=fields["handler"],
        code_dir=scratch_dir,
        runtime=fields["runtime"],
        memory_mb=fields["memory"],
        timeout_s=fields["timeout"],
        environment=fields["environment"],
        ephemeral_storage_mb=fields["ephemeral_storage"],
        logging=LoggingConfig.from_shape(fields.get("logging_config")),
    )


def create_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Defaults of CreateFunction, overlaid with what the body gives."""
    name = require(body, "FunctionName", "functionName")
    check_role(require(body, "Role", "role"))
    package_type = body.get("PackageType", "Zip")
    if package_type not in ("Zip", "Image"):
        raise constraint(package_type, "packageType", "satisfy enum value set: [Zip, Image]")
    if package_type == "Image":
        raise InvalidParameterValue(
            "keepwarm runs Zip packages only; PackageType Image is not supported."
        )
    if not body.get("Runtime") or not body.get("Handler"):
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with deployment "
            "packages."
        )
    fields: dict[str, Any] = {
        "name": name,
        "description": "",
        "timeout": 3,
        "memory": 128,
        "environment": {},
        "ephemeral_storage": 512,
        "architectures": ("x86_64",),
    }
    fields.update(config_changes(body))
    return fields
