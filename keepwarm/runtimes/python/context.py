"""The ``context`` object handed to a Python handler, attribute for attribute as on AWS.

Handler code reads these attributes directly (``context.aws_request_id``,
``int(context.memory_limit_in_mb)``, ``context.identity.cognito_identity_id``), so names,
types (memory is a *string*) and ``None``-ness must match awslambdaric's ``LambdaContext``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .environ import getter
from .errors import LAMBDA_CONTEXT_UNMARSHAL_ERROR, FaultError

_W3C_FIELDS = ("traceparent", "tracestate", "baggage")
_log_group = getter("AWS_LAMBDA_LOG_GROUP_NAME")
_log_stream = getter("AWS_LAMBDA_LOG_STREAM_NAME")
_function_name = getter("AWS_LAMBDA_FUNCTION_NAME")
_memory = getter("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
_version = getter("AWS_LAMBDA_FUNCTION_VERSION")


class CognitoIdentity:
    """``context.identity``: always present, fields ``None`` without a Cognito caller."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id: Any = None, pool_id: Any = None) -> None:
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """``context.client_context.client``: the mobile app that made the call."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, fields: dict[str, Any]) -> None:
        self.installation_id = fields.get("installation_id")
        self.app_title = fields.get("app_title")
        self.app_version_name = fields.get("app_version_name")
        self.app_version_code = fields.get("app_version_code")
        self.app_package_name = fields.get("app_package_name")

    def __repr__(self) -> str:
        return (
            f"Client([installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    """``context.client_context``: set only when the caller sent an ``X-Amz-Client-Context``."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = None if client is None else Client(client)

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """What awslambdaric passes as ``context``; the JSON headers are parsed here.

    Raises ``FaultError(Runtime.LambdaContextUnmarshalError)`` for invalid client-context or
    Cognito JSON. Function facts are read from the environment per invocation, as AWS does.
    """

    def __init__(
        self,
        invoke_id: str,
        client_context: str | None,
        cognito_identity: str | None,
        epoch_deadline_time_in_ms: int,
        invoked_function_arn: str,
        tenant_id: str | None = None,
    ) -> None:
        client_fields = _parse_header(client_context, "Client Context")
        identity_fields = _parse_header(cognito_identity, "Cognito Identity")
        self.aws_request_id = invoke_id
        self.log_group_name = _log_group()
        self.log_stream_name = _log_stream()
        self.function_name = _function_name()
        self.memory_limit_in_mb = _memory()
        self.function_version = _version()
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._w3c_fields = _pop_w3c(client_fields)
        self.client_context = None if client_fields is None else ClientContext(client_fields)
        self.identity = _identity(identity_fields)
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the deadline, never negative."""
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def w3c(self) -> dict[str, str]:
        """The W3C trace-context fields the caller sent in ``clientContext.w3c``."""
        return dict(self._w3c_fields)

    def log(self, msg: object) -> None:
        """Write ``msg`` to the function's log as is (no newline added, as on AWS)."""
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


def make_context(
    invoke_id: str,
    client_context: str | None,
    cognito_identity: str | None,
    epoch_deadline_time_in_ms: int,
    invoked_function_arn: str,
    tenant_id: str | None = None,
) -> LambdaContext:
    """Build the context for one invocation (raises LambdaContextUnmarshalError on bad JSON)."""
    return LambdaContext(
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn,
        tenant_id,
    )


def _parse_header(raw: str | None, name: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except Exception as exc:
        message = f"Unable to parse {name} JSON: {exc}"
        raise FaultError(LAMBDA_CONTEXT_UNMARSHAL_ERROR, message) from exc


def _identity(fields: Any) -> CognitoIdentity:
    if fields is None:
        return CognitoIdentity()
    return CognitoIdentity(fields.get("cognitoIdentityId"), fields.get("cognitoIdentityPoolId"))


def _pop_w3c(client_fields: Any) -> dict[str, str]:
    """Remove ``w3c`` from the client context (AWS hides it there) and keep its string fields."""
    if not isinstance(client_fields, dict) or "w3c" not in client_fields:
        return {}
    raw = client_fields.pop("w3c")
    if not isinstance(raw, dict):
        return {}
    return {key: raw[key] for key in _W3C_FIELDS if isinstance(raw.get(key), str)}
