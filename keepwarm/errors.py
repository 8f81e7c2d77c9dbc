"""The one exception tree of keepwarm, with Lambda's exact error names.

Why one tree: every layer raises these, and exactly one table (``HTTP_STATUS``) turns them into
AWS's REST-JSON error shapes, so the HTTP layer never decides a status code itself.

    KeepwarmError
    ├── ServiceError                  (the call itself failed; never a function result)
    │   ├── FunctionNotFound          ResourceNotFoundException 404
    │   ├── ResourceNotFound          ResourceNotFoundException 404
    │   ├── UnknownOperation          UnknownOperationException 404 (an operation not served)
    │   ├── InvalidParameterValue     InvalidParameterValueException 400
    │   ├── ValidationError           ValidationException 400
    │   ├── InvalidRequestContent     InvalidRequestContentException 400
    │   ├── SerializationError        SerializationException 400 (a body member of the wrong type)
    │   ├── RequestTooLarge           RequestEntityTooLargeException 413
    │   ├── UnsupportedMediaType      UnsupportedMediaTypeException 415
    │   ├── ResourceConflict          ResourceConflictException 409
    │   ├── PreconditionFailed        PreconditionFailedException 412
    │   ├── Throttled                 TooManyRequestsException 429 (with a Reason)
    │   ├── FunctionUrlError          what a function URL answers itself (403, 413, 429, 502)
    │   └── ServiceFailure            ServiceException 500
    ├── TemplateError                 a SAM template that cannot be loaded (CLI-facing)
    │   └── BadFunction               one function of it cannot run (the others run)
    ├── CredentialsError              AWS credentials the CLI cannot use (CLI-facing)
    └── SimulationInputError          traffic or a function model ``keepwarm simulate`` cannot use

Function errors (a handler raising, a timeout, an OOM kill, a crash) are *not* exceptions here:
they are results, returned with ``X-Amz-Function-Error: Unhandled`` and HTTP 200, as on Lambda.
"""

from __future__ import annotations

from typing import ClassVar


class KeepwarmError(Exception):
    """Root of every error keepwarm raises on purpose."""


class TemplateError(KeepwarmError):
    """A template that cannot be read or has an invalid function definition."""


class BadFunction(TemplateError):
    """One function of a template cannot run, for a reason of its own.

    Why apart: ``keepwarm serve`` serves the template's other functions and lists this one in
    Lambda's ``Failed`` state with ``reason`` as its StateReason (``reason_code``, one of
    Lambda's StateReasonCode values); ``keepwarm invoke``, the Python API, ``audit --replay``
    and ``demo`` run the others and raise this when it is the one asked for. ``load_template``
    still refuses the whole template with it.
    """

    def __init__(
        self, logical_id: str, reason: str, reason_code: str = "InvalidConfiguration"
    ) -> None:
        super().__init__(f"Function {logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason
        self.reason_code = reason_code


class CredentialsError(KeepwarmError):
    """AWS credentials or profiles configured so that ``keepwarm invoke`` cannot sign with them."""


class SimulationInputError(KeepwarmError):
    """Traffic (a rate, a trace file) or a duration the simulator cannot use; the message names
    the value, and the file and line for a trace."""


class ServiceError(KeepwarmError):
    """An error that AWS would answer with a non-2xx status and an error shape."""

    code: ClassVar[str] = "ServiceException"
    error_type: ClassVar[str] = "Service"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"Type": self.error_type, "message": self.message}


class FunctionNotFound(ServiceError):
    code = "ResourceNotFoundException"
    error_type = "User"

    def __init__(self, arn: str) -> None:
        super().__init__(f"Function not found: {arn}")
        self.arn = arn


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"
    error_type = "User"


class UnknownOperation(ServiceError):
    """A Lambda operation keepwarm does not implement (a routing miss that names one)."""

    code = "UnknownOperationException"
    error_type = "User"

    def __init__(self, operation: str) -> None:
        super().__init__(f"keepwarm does not implement {operation} (see docs/api-compatibility.md)")
        self.operation = operation


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValueException"
    error_type = "User"


class ValidationError(ServiceError):
    code = "ValidationException"
    error_type = "User"


class InvalidRequestContent(ServiceError):
    code = "InvalidRequestContentException"
    error_type = "User"


class SerializationError(ServiceError):
    code = "SerializationException"
    error_type = "User"


class RequestTooLarge(ServiceError):
    code = "RequestEntityTooLargeException"
    error_type = "User"


SYNC_LIMIT = 6_291_456  # a synchronous Invoke's request payload, in bytes


def too_large_sync() -> RequestTooLarge:
    return RequestTooLarge(
        f"Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation"
    )


def stopped_under_call(env_id: str) -> ServiceFailure:
    """An environment shut down (the server closing) while it served an invocation."""
    return ServiceFailure(
        f"keepwarm is shutting down: environment {env_id} stopped before the invocation finished."
    )


def not_available(env_id: str, state: str) -> ServiceFailure:
    """A bug in placement: an environment asked to serve while busy or stopping."""
    return ServiceFailure(f"environment {env_id} is {state}, not available")


class UnsupportedMediaType(ServiceError):
    code = "UnsupportedMediaTypeException"
    error_type = "User"


class ResourceConflict(ServiceError):
    code = "ResourceConflictException"
    error_type = "User"


class PreconditionFailed(ServiceError):
    code = "PreconditionFailedException"
    error_type = "User"


class ServiceFailure(ServiceError):
    code = "ServiceException"
    error_type = "Service"


class Throttled(ServiceError):
    """Over a concurrency limit; ``reason`` is one of Lambda's ThrottleReason strings."""

    code = "TooManyRequestsException"
    error_type = "User"

    RESERVED: ClassVar[str] = "ReservedFunctionConcurrentInvocationLimitExceeded"
    ACCOUNT: ClassVar[str] = "ConcurrentInvocationLimitExceeded"

    def __init__(self, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.reason = reason

    def body(self) -> dict[str, str]:
        return {"Type": self.error_type, "message": self.message, "Reason": self.reason}


class AccessDenied(ServiceError):
    code = "AccessDeniedException"
    error_type = "User"


class FunctionUrlError(ServiceError):
    """An answer of a function URL's own front end, not of Lambda's API: AWS writes these
    ``{"Message": ...}`` (see ``lambda_api.function_url.error_response``, their one renderer)."""

    error_type = "User"
    key: ClassVar[str] = "Message"


FORBIDDEN = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)


class UrlForbidden(FunctionUrlError):
    """A request an AWS_IAM function URL refuses (unsigned); ``code`` may be the signature
    check's own (InvalidSignatureException...), which Lambda words ``{"message": ...}``."""

    code = "AccessDeniedException"

    def __init__(self, message: str = FORBIDDEN, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code or self.code


class UrlUnknown(FunctionUrlError):
    """No function URL has this id (AWS answers ``{"Message":null}``)."""

    code = "AccessDeniedException"


class UrlFunctionFailed(FunctionUrlError):
    """The function failed (an error, a timeout, a crash, a response too large): a 502 whose
    body is the text ``Internal Server Error``."""

    def __init__(self) -> None:
        super().__init__("Internal Server Error")


class UrlThrottled(FunctionUrlError):
    code = "TooManyRequestsException"
    key = "message"

    def __init__(self) -> None:
        super().__init__("Rate Exceeded.")


class UrlTooLarge(FunctionUrlError):
    code = "RequestEntityTooLargeException"
    key = "message"


HTTP_STATUS: dict[type[ServiceError], int] = {
    UrlForbidden: 403,
    UrlUnknown: 403,
    UrlFunctionFailed: 502,
    UrlThrottled: 429,
    UrlTooLarge: 413,
    AccessDenied: 403,
    FunctionNotFound: 404,
    ResourceNotFound: 404,
    UnknownOperation: 404,
    InvalidParameterValue: 400,
    ValidationError: 400,
    InvalidRequestContent: 400,
    SerializationError: 400,
    RequestTooLarge: 413,
    UnsupportedMediaType: 415,
    ResourceConflict: 409,
    PreconditionFailed: 412,
    Throttled: 429,
    ServiceFailure: 500,
    ServiceError: 500,
}


def http_status(error: ServiceError) -> int:
    """The HTTP status for a service error: the single place that decides it."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]  # type: ignore[index,unused-ignore]
    return 500


# Error types of function results (payloads), as Lambda spells them.
SANDBOX_TIMEDOUT = "Sandbox.Timedout"
RUNTIME_OOM = "Runtime.OutOfMemory"
RUNTIME_EXIT = "Runtime.ExitError"
RUNTIME_UNKNOWN = "Runtime.Unknown"
RUNTIME_INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
