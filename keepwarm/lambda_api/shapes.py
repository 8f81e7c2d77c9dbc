"""The JSON body shapes of the control-plane operations, after botocore's ``service-2.json``.

Why here, and once: Lambda's REST-JSON front end reads a body into its model's types before the
operation's own checks run, so ``{"Timeout": "x"}`` or ``{"Environment": "x"}`` is a 400
``SerializationException``, never a 500. ``check`` does that reading; ``openapi`` describes the
same shapes to clients and fuzzers, so the description and the refusal cannot drift apart.
Members keepwarm ignores keep their types here too: a wrong type is refused even where the value
would not be used. An explicit ``null`` reads as absent, as on Lambda.
"""

from __future__ import annotations

from typing import Any

from keepwarm.errors import SerializationError

Shape = dict[str, Any]
S: Shape = {"type": "string"}
I: Shape = {"type": "integer"}  # noqa: E741
B: Shape = {"type": "boolean"}
D: Shape = {"type": "number"}


def obj(**members: Shape) -> Shape:
    return {"type": "object", "properties": members}


def arr(item: Shape) -> Shape:
    return {"type": "array", "items": item}


def mapping(value: Shape) -> Shape:
    return {"type": "object", "additionalProperties": value}


FUNCTION_FIELDS: dict[str, Shape] = {
    "Runtime": S,
    "Role": S,
    "Handler": S,
    "Description": S,
    "Timeout": I,
    "MemorySize": I,
    "Environment": obj(Variables=mapping(S)),
    "EphemeralStorage": obj(Size=I),
    "Layers": arr(S),
    "TracingConfig": obj(Mode=S),
    "DeadLetterConfig": obj(TargetArn=S),
    "KMSKeyArn": S,
    "VpcConfig": obj(SubnetIds=arr(S), SecurityGroupIds=arr(S), Ipv6AllowedForDualStack=B),
    "FileSystemConfigs": arr(obj(Arn=S, LocalMountPath=S)),
    "ImageConfig": obj(EntryPoint=arr(S), Command=arr(S), WorkingDirectory=S),
    "SnapStart": obj(ApplyOn=S),
    "LoggingConfig": obj(LogFormat=S, ApplicationLogLevel=S, SystemLogLevel=S, LogGroup=S),
}
CODE = obj(
    ZipFile={"type": "string", "format": "byte"},
    S3Bucket=S,
    S3Key=S,
    S3ObjectVersion=S,
    ImageUri=S,
)
EVENT_CONFIG = obj(
    MaximumRetryAttempts=I,
    MaximumEventAgeInSeconds=I,
    DestinationConfig=obj(OnSuccess=obj(Destination=S), OnFailure=obj(Destination=S)),
)
ALIAS_FIELDS: dict[str, Shape] = {
    "FunctionVersion": S,
    "Description": S,
    "RoutingConfig": obj(AdditionalVersionWeights=mapping(D)),
}
URL_FIELDS: dict[str, Shape] = {
    "AuthType": S,
    "InvokeMode": S,
    "Cors": obj(
        AllowCredentials=B,
        AllowHeaders=arr(S),
        AllowMethods=arr(S),
        AllowOrigins=arr(S),
        ExposeHeaders=arr(S),
        MaxAge=I,
    ),
}
BODIES: dict[str, Shape] = {
    "CreateFunction": {
        **obj(
            FunctionName=S,
            Code=CODE,
            Publish=B,
            PackageType=S,
            Tags=mapping(S),
            Architectures=arr(S),
            CodeSigningConfigArn=S,
            **FUNCTION_FIELDS,
        ),
        "required": ["FunctionName", "Role", "Code"],
    },
    "UpdateFunctionConfiguration": obj(RevisionId=S, **FUNCTION_FIELDS),
    "UpdateFunctionCode": obj(
        ZipFile={"type": "string", "format": "byte"},
        S3Bucket=S,
        S3Key=S,
        S3ObjectVersion=S,
        ImageUri=S,
        Architectures=arr(S),
        Publish=B,
        DryRun=B,
        RevisionId=S,
    ),
    "TagResource": {**obj(Tags=mapping(S)), "required": ["Tags"]},
    "PublishVersion": obj(CodeSha256=S, Description=S, RevisionId=S),
    "CreateAlias": {**obj(Name=S, **ALIAS_FIELDS), "required": ["Name", "FunctionVersion"]},
    "UpdateAlias": obj(RevisionId=S, **ALIAS_FIELDS),
    "PutFunctionConcurrency": {
        **obj(ReservedConcurrentExecutions=I),
        "required": ["ReservedConcurrentExecutions"],
    },
    "PutFunctionEventInvokeConfig": EVENT_CONFIG,
    "UpdateFunctionEventInvokeConfig": EVENT_CONFIG,
    "PublishLayerVersion": {
        **obj(
            Description=S,
            Content=obj(
                S3Bucket=S,
                S3Key=S,
                S3ObjectVersion=S,
                S3ObjectStorageMode=S,
                ZipFile={"type": "string", "format": "byte"},
            ),
            CompatibleRuntimes=arr(S),
            CompatibleArchitectures=arr(S),
            LicenseInfo=S,
        ),
        "required": ["Content"],
    },
    "CreateFunctionUrlConfig": {**obj(**URL_FIELDS), "required": ["AuthType"]},
    "UpdateFunctionUrlConfig": obj(**URL_FIELDS),
}
_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "a list",
}


def check(operation: str, body: dict[str, Any]) -> None:
    """Refuse a body whose members do not have the operation's types (SerializationException)."""
    shape = BODIES.get(operation)
    if shape is not None:
        _check(shape, body, "")


def _check(shape: Shape, value: Any, path: str) -> None:
    if value is None:
        return
    kind = shape["type"]
    if not _is(kind, value):
        raise SerializationError(
            f"Could not read {path or 'the request body'}: expected {_NAMES[kind]}, "
            f"got {_describe(value)}."
        )
    if kind == "object":
        _check_members(shape, value, path)
    elif kind == "array":
        for i, item in enumerate(value):
            _check(shape["items"], item, f"{path}[{i}]")


def _check_members(shape: Shape, value: dict[str, Any], path: str) -> None:
    members: dict[str, Shape] = shape.get("properties", {})
    others: Shape | None = shape.get("additionalProperties")
    for key, item in value.items():
        sub = members.get(key, others)
        if sub is not None:
            _check(sub, item, f"{path}.{key}" if path else key)


def _is(kind: str, value: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    python = {"string": str, "boolean": bool, "object": dict, "array": list}[kind]
    return isinstance(value, python)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    for python, name in ((str, "a string"), (dict, "an object"), (list, "a list")):
        if isinstance(value, python):
            return name
    return type(value).__name__
