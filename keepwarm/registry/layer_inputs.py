"""The layer operations' inputs, checked as Lambda checks them, in Lambda's words.

Why apart from the layer registry: these are Lambda's input rules (patterns, lengths, enums,
which errors are counted together in one ValidationException); the registry only sequences
effects. The messages are those AWS answered (recorded in LocalStack's AWS-validated snapshot
tests/aws/services/lambda_/test_lambda_api.snapshot.json, ``TestLambdaLayer``).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from keepwarm.config import constraint
from keepwarm.errors import InvalidParameterValue, ValidationError
from keepwarm.lambda_runtimes import LAMBDA_RUNTIMES
from keepwarm.registry.code import BAD_ZIP
from keepwarm.registry.inputs import ARCHITECTURES

LAYER_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"layer:[a-zA-Z0-9-_]{1,140}|[a-zA-Z0-9-_]{1,140})"
)
BY_ARN_PATTERN = (
    r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+"
)
MAX_RUNTIMES = 15
MAX_ARCHITECTURES = 2
NOT_FOUND = "The resource you requested does not exist."
_RUNTIME_SET = f"[{', '.join(sorted(LAMBDA_RUNTIMES))}]"
_ARCH_SET = f"[{', '.join(ARCHITECTURES)}]"


def check_layer_name(raw: str) -> str:
    """A LayerName path member: a name, or a layer ARN (``arn:...:layer:name``)."""
    if not 1 <= len(raw) <= 2048 or not re.fullmatch(LAYER_NAME_PATTERN, raw):
        raise constraint(
            raw, "layerName", f"satisfy regular expression pattern: {LAYER_NAME_PATTERN}"
        )
    return raw


def version_number(raw: str) -> int:
    """A VersionNumber path member; Lambda refuses 0 and below in its own words."""
    try:
        number = int(raw)
    except ValueError:
        raise constraint(raw, "versionNumber", "be a number") from None
    if number < 1:
        raise InvalidParameterValue("Layer Version Cannot be less than 1")
    return number


def check_by_arn(arn: str | None) -> str:
    """GetLayerVersionByArn's ``Arn``: a layer *version* ARN."""
    if arn is None:
        raise constraint(None, "arn", "not be null")
    if not 1 <= len(arn) <= 2048 or not re.fullmatch(BY_ARN_PATTERN, arn):
        raise constraint(arn, "arn", f"satisfy regular expression pattern: {BY_ARN_PATTERN}")
    return arn


def check_filters(runtime: str | None, architecture: str | None) -> None:
    """ListLayers' and ListLayerVersions' CompatibleRuntime and CompatibleArchitecture."""
    if runtime and runtime not in LAMBDA_RUNTIMES:
        raise constraint(runtime, "compatibleRuntime", f"satisfy enum value set: {_RUNTIME_SET}")
    if architecture and architecture not in ARCHITECTURES:
        raise constraint(
            architecture, "compatibleArchitecture", f"satisfy enum value set: {_ARCH_SET}"
        )


def _shown(values: list[Any]) -> str:
    return f"[{', '.join('null' if v is None else str(v) for v in values)}]"


def _compatibility_errors(runtimes: Any, architectures: Any) -> list[str]:
    """Each broken rule of the two lists, as one clause of Lambda's ValidationException."""
    errors = []
    if runtimes is not None:
        if len(runtimes) > MAX_RUNTIMES:
            errors.append(
                f"Value '{_shown(runtimes)}' at 'compatibleRuntimes' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_RUNTIMES}"
            )
        elif any(r not in LAMBDA_RUNTIMES for r in runtimes):
            errors.append(
                f"Value '{_shown(runtimes)}' at 'compatibleRuntimes' failed to satisfy "
                f"constraint: Member must satisfy enum value set: {_RUNTIME_SET}"
            )
    if architectures is not None:
        if len(architectures) > MAX_ARCHITECTURES:
            errors.append(
                f"Value '{_shown(architectures)}' at 'compatibleArchitectures' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_ARCHITECTURES}"
            )
        elif any(a not in ARCHITECTURES for a in architectures):
            errors.append(
                f"Value '{_shown(architectures)}' at 'compatibleArchitectures' failed to satisfy "
                "constraint: Member must satisfy constraint: [Member must satisfy enum value "
                f"set: {_ARCH_SET}]"
            )
    return errors


def _text_errors(description: Any, license_info: Any) -> list[str]:
    errors = []
    if description is not None and len(description) > 256:
        errors.append(
            f"Value '{description}' at 'description' failed to satisfy constraint: Member must "
            "have length less than or equal to 256"
        )
    if license_info is not None and len(license_info) > 512:
        errors.append(
            f"Value '{license_info}' at 'licenseInfo' failed to satisfy constraint: Member must "
            "have length less than or equal to 512"
        )
    return errors


def raise_all(errors: list[str]) -> None:
    """Lambda reports every broken model rule of a request at once: "2 validation errors
    detected: A; B"."""
    if errors:
        many = "s" if len(errors) > 1 else ""
        raise ValidationError(f"{len(errors)} validation error{many} detected: {'; '.join(errors)}")


def layer_zip(content: Any) -> bytes:
    """``Content.ZipFile`` (base64 in JSON); S3 and images are not available locally."""
    if content is None:
        raise constraint(None, "content", "not be null")
    if content.get("S3Bucket") or content.get("S3Key") or content.get("S3ObjectVersion"):
        raise InvalidParameterValue(
            "keepwarm has no S3: upload the layer as Content.ZipFile instead of S3Bucket/S3Key."
        )
    raw = content.get("ZipFile")
    if not isinstance(raw, str) or not raw:
        raise InvalidParameterValue(
            "Please provide a source for the layer content: Content.ZipFile."
        )
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameterValue(BAD_ZIP) from exc


def publish_fields(body: dict[str, Any]) -> dict[str, Any]:
    """PublishLayerVersion's body as ``LayerVersion`` fields, every rule checked first."""
    runtimes = body.get("CompatibleRuntimes")
    architectures = body.get("CompatibleArchitectures")
    description, license_info = body.get("Description"), body.get("LicenseInfo")
    raise_all(
        _compatibility_errors(runtimes, architectures) + _text_errors(description, license_info)
    )
    return {
        "description": description or "",
        "compatible_runtimes": None if runtimes is None else tuple(runtimes),
        "compatible_architectures": None if architectures is None else tuple(architectures),
        "license_info": license_info,
    }
