"""Error payloads and unhandled-error log lines, shaped exactly as awslambdaric shapes them.

Clients (boto3 users, Step Functions, tests written against AWS) parse ``errorType``,
``errorMessage`` and ``stackTrace`` and grep the log for ``[ERROR] Type: message``, so both the
payload and the log text must match AWS byte for byte, including the runtime frames AWS hides
from stack traces and the U+00A0 indentation of the logged traceback.
"""

from __future__ import annotations

import os
import time
import traceback
from types import TracebackType

from .logs import JSON_TIMESTAMP_FORMAT, format_warning

MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
MARSHAL_ERROR = "Runtime.MarshalError"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with a change in the "
    "runtime version, you may be able to mitigate this error by temporarily rolling back to the "
    "previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LINE_SEPARATOR = "\r"
_LOG_INDENT = "\u00a0"

_Frame = tuple[str, int, str, str | None]


class FaultError(Exception):
    """An error the runtime reports with a Lambda errorType (init or invoke).

    Carries its own type, message and trace because Lambda's runtime faults (bad handler name,
    unmarshal failures, ...) are not described by the Python exception that caused them.
    """

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace: list[str] = list(stack_trace) if stack_trace else []

    def payload(self, request_id: str = "") -> dict[str, object]:
        """The body posted to /error or /init/error (``requestId`` is "" during init)."""
        return _payload(self.message, self.error_type, self.stack_trace, request_id)


def invoke_error_payload(exc: BaseException, request_id: str) -> dict[str, object]:
    """The error body for an exception raised while handling one invocation (§9.3)."""
    if isinstance(exc, FaultError):
        return exc.payload(request_id)
    trace = user_stack_trace(exc.__traceback__)
    return _payload(str(exc), type(exc).__name__, trace, request_id)


def user_stack_trace(tb: TracebackType | None) -> list[str]:
    """``traceback.format_list`` of the frames after the runtime's own leading frames.

    Frames are reduced to plain 4-tuples first: formatting ``FrameSummary`` objects on 3.11+
    adds ``^^^`` caret lines that AWS's stack traces never contain. As in awslambdaric, when
    every frame is the runtime's, all are kept.
    """
    frames: list[_Frame] = [
        (f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)
    ]
    for index, frame in enumerate(frames):
        if not _is_runtime_file(frame[0]):
            frames = frames[index:]
            break
    return traceback.format_list(frames)


def format_unhandled_log(payload: dict[str, object], *, init: bool = False) -> str:
    """The stdout text the runtime writes for an unhandled error, without the final newline.

    Text mode: ``[ERROR] Type: message`` then the traceback, joined by ``\\r`` so that the whole
    error stays one log event. JSON mode (``AWS_LAMBDA_LOG_FORMAT=JSON``): one JSON object.
    With ``init`` the line is preceded by the ``LAMBDA_WARNING`` record that awslambdaric 4.x
    logs through the root logger on init failures (so it has the usual log prefix, is a line
    of its own and is dropped when the log level is above WARNING).
    """
    warning = format_warning(UNHANDLED_WARNING) if init else ""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        return warning + _json_error_line(payload)
    return warning + _LINE_SEPARATOR.join(_text_error_lines(payload))


def _payload(message: str, error_type: str, trace: list[str], request_id: str) -> dict[str, object]:
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": trace or [],
    }


def _is_runtime_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_RUNTIME_DIR)


def _text_error_lines(payload: dict[str, object]) -> list[str]:
    error_type = payload.get("errorType")
    message = payload.get("errorMessage")
    head = "[ERROR]"
    if error_type:
        head += f" {error_type}"
    if message:
        head += f": {message}" if error_type else f" {message}"
    lines = [head]
    trace = payload.get("stackTrace")
    if isinstance(trace, list):
        lines.append("Traceback (most recent call last):")
        for element in trace:
            lines.extend(_trace_element_lines(str(element)))
    return lines


def _trace_element_lines(element: str) -> list[str]:
    if element == "":
        return [""]
    return [_nbsp_indent(line) for line in element.splitlines()]


def _nbsp_indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return _LOG_INDENT * (len(line) - len(stripped)) + stripped


def _json_error_line(payload: dict[str, object]) -> str:
    from .marshal import to_json

    timestamp = time.strftime(JSON_TIMESTAMP_FORMAT, time.gmtime())
    return to_json({"timestamp": timestamp, "level": "ERROR", **payload})
