"""Lambda's rules for a function URL's configuration: what a URL is, what is accepted, and the
shapes CreateFunctionUrlConfig and its siblings answer with.

Why apart from the operations (``urls``): these are pure checks and shapes, read the same by
the API and by a template's ``FunctionUrlConfig``/``AWS::Lambda::Url``, so both refuse the same
values with the same words. The words are AWS's, as recorded against Lambda (localstack's
``test_lambda_api.snapshot.json``, ``TestLambdaUrl``) and its model (botocore's
``service-2.json``: ``Cors``, ``FunctionUrlQualifier``, ``InvokeMode``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field, replace
from typing import Any

from keepwarm.config import constraint

QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
URL_ID = re.compile(r"[a-z0-9]{32}")
_ALPHABET = string.ascii_lowercase + string.digits
# Cors member -> (most items, longest item, shortest item), as botocore's model bounds them.
_CORS_LISTS = {
    "AllowHeaders": (100, 1024, 0),
    "AllowMethods": (6, 6, 0),
    "AllowOrigins": (100, 253, 1),
    "ExposeHeaders": (100, 1024, 0),
}
MAX_AGE = 86400
# Lambda's two words for "no such thing": the operations that write say the function does
# not exist, those that read or delete the resource (recorded against AWS, 2023-11-20).
NO_FUNCTION = "Function does not exist"
NO_RESOURCE = "The resource you requested does not exist."


def now() -> str:
    """``CreationTime``/``LastModifiedTime``: ISO-8601 with microseconds, in UTC."""
    moment = datetime.datetime.now(datetime.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_url_id() -> str:
    """32 lowercase letters and digits, random: an API-created URL is new each time, as on
    Lambda (a deleted URL cannot be recovered)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


def template_url_id(function: str, qualifier: str | None) -> str:
    """The same 32 characters for the same template URL at every start (Lambda's own url-id
    is derived, not random, from the account and function)."""
    digest = hashlib.sha256(f"keepwarm-function-url:{function}:{qualifier or ''}".encode())
    return base64.b32encode(digest.digest()).decode().lower()[:32]


@dataclass(frozen=True)
class UrlConfig:
    """One function URL: of a function (``qualifier`` None) or of one of its aliases."""

    function: str
    qualifier: str | None
    url_id: str
    auth_type: str
    cors: dict[str, Any] | None = None
    invoke_mode: str | None = None  # as given: CreateFunctionUrlConfig echoes it only then
    creation_time: str = field(default_factory=now)
    last_modified_time: str = ""
    origin: str = "api"  # api | template (the template's is made again at each start)

    @property
    def label(self) -> str:
        """``function`` or ``function:alias``, as keepwarm's lines name a URL."""
        return f"{self.function}:{self.qualifier}" if self.qualifier else self.function

    @property
    def mode(self) -> str:
        return self.invoke_mode or "BUFFERED"

    def changed(self, **changes: Any) -> UrlConfig:
        return replace(self, last_modified_time=now(), **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url_id": self.url_id,
            "auth_type": self.auth_type,
            "cors": self.cors,
            "invoke_mode": self.invoke_mode,
            "creation_time": self.creation_time,
            "last_modified_time": self.last_modified_time,
        }

    @classmethod
    def from_dict(cls, function: str, qualifier: str | None, doc: dict[str, Any]) -> UrlConfig:
        return cls(function, qualifier, **doc)


def check_qualifier(qualifier: str | None) -> None:
    """An alias or nothing: a version or ``$LATEST`` is refused by the pattern, as on AWS."""
    if qualifier is None:
        return
    if len(qualifier) > 128 or not re.fullmatch(QUALIFIER_PATTERN, qualifier):
        raise constraint(
            qualifier, "qualifier", f"satisfy regular expression pattern: {QUALIFIER_PATTERN}"
        )


def check_auth_type(value: Any) -> str:
    if value is None:
        raise constraint(None, "authType", "not be null")
    if value not in AUTH_TYPES:
        raise constraint(value, "authType", "satisfy enum value set: [AWS_IAM, NONE]")
    return str(value)


def check_invoke_mode(value: Any) -> str | None:
    if value is not None and value not in INVOKE_MODES:
        raise constraint(value, "invokeMode", "satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")
    return value if value is None else str(value)


def check_cors(cors: Any) -> dict[str, Any] | None:
    """The model's bounds (types were checked with the body); the members given, nulls out."""
    if cors is None:
        return None
    given = {k: v for k, v in cors.items() if v is not None}
    for key, (most, longest, shortest) in _CORS_LISTS.items():
        _check_list(given.get(key), f"cors.{key[0].lower()}{key[1:]}", most, longest, shortest)
    age = given.get("MaxAge")
    if age is not None and not 0 <= age <= MAX_AGE:
        rule = "greater than or equal to 0" if age < 0 else f"less than or equal to {MAX_AGE}"
        raise constraint(age, "cors.maxAge", f"have value {rule}")
    return given


def _check_list(items: list[str] | None, name: str, most: int, longest: int, shortest: int) -> None:
    if items is None:
        return
    shown = f"[{', '.join(items)}]"
    if len(items) > most:
        raise constraint(shown, name, f"have length less than or equal to {most}")
    for item in items:
        if not shortest <= len(item) <= longest:
            bound = (
                f"less than or equal to {longest}"
                if len(item) > longest
                else f"greater than or equal to {shortest}"
            )
            raise constraint(shown, name, f"satisfy constraint: [Member must have length {bound}]")


def shape(
    url: UrlConfig, function_arn: str, function_url: str, created: bool = False
) -> dict[str, Any]:
    """GetFunctionUrlConfig's shape (Update and List alike); CreateFunctionUrlConfig's has no
    ``LastModifiedTime`` and names ``InvokeMode`` only when it was given (recorded, 2025)."""
    out: dict[str, Any] = {
        "FunctionUrl": function_url,
        "FunctionArn": function_arn,
        "AuthType": url.auth_type,
        "CreationTime": url.creation_time,
    }
    if url.cors is not None:
        out["Cors"] = url.cors
    if created:
        if url.invoke_mode is not None:
            out["InvokeMode"] = url.invoke_mode
        return out
    out["LastModifiedTime"] = url.last_modified_time
    out["InvokeMode"] = url.mode
    return out


def function_url(url_id: str, region: str, port: int | None) -> str:
    """What a client on this machine calls: ``*.localhost`` resolves to the loopback (RFC
    6761), so curl and browsers reach the server by this name, as they reach
    ``<url-id>.lambda-url.<region>.on.aws`` on AWS."""
    where = f":{port}" if port else ""
    return f"http://{url_id}.lambda-url.{region}.localhost{where}/"
