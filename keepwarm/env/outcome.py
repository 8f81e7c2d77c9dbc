"""How one phase of an environment ended, and what Lambda makes of it.

Pure functions of an ``Answer``: which error type, which payload the caller gets, whether the
REPORT line carries a status. Kept apart from ``LocalEnvironment`` so these rules — the exact
texts callers and logs see — read in one place and are tested as a table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from keepwarm import errors
from keepwarm.env.launcher import describe_exit

MAX_RESPONSE = 6_291_556
_CONVENTIONAL = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")
JSON = "application/json"


@dataclass
class Answer:
    """How the runtime (or the watchdogs) ended a phase."""

    kind: str  # ready | response | error | init_error | exit | timeout
    body: bytes = b""
    content_type: str = JSON
    status: int | None = None
    oom: bool = False
    prior: Answer | None = None
    entrypoint: str | None = None  # why the runtime could not even start (InvalidEntrypoint)
    declared: str | None = None  # the runtime's own error type (Lambda-Runtime-Function-Error-Type)

    @property
    def after_init_error(self) -> bool:
        return self.prior is not None and self.prior.kind == "init_error"

    @property
    def exit_text(self) -> str:
        if self.entrypoint is not None:
            return self.entrypoint
        return describe_exit(self.status if self.status is not None else 9)


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def body_error_type(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def logged_type(error_type: str | None) -> str:
    """The error type Lambda's own lines (INIT_REPORT, REPORT) show for a failed Init: the
    runtime's when it follows the ``Runtime.X``/``Function.X`` convention, else
    ``Runtime.Unknown`` (a Python ``RuntimeError`` at import logs ``Runtime.Unknown``; the
    caller still gets the runtime's body as it was posted)."""
    if error_type is not None and _CONVENTIONAL.fullmatch(error_type):
        return error_type
    return errors.RUNTIME_UNKNOWN


def _init_error_type(answer: Answer) -> str:
    """What the runtime declared (RAPID reads the header), else the body's ``errorType``."""
    return logged_type(answer.declared or body_error_type(answer.body))


def error_type(answer: Answer) -> str | None:
    if answer.kind == "timeout":
        return errors.SANDBOX_TIMEDOUT
    if answer.kind == "exit":
        if answer.prior is not None and answer.after_init_error:
            return _init_error_type(answer.prior)
        if answer.entrypoint is not None:
            return errors.RUNTIME_INVALID_ENTRYPOINT
        return errors.RUNTIME_OOM if answer.oom else errors.RUNTIME_EXIT
    if answer.kind == "init_error":
        return _init_error_type(answer)
    if answer.kind == "error":
        return body_error_type(answer.body)
    return None


def payload(answer: Answer, request_id: str, timeout_s: int) -> tuple[bytes, str | None, str]:
    """(payload, X-Amz-Function-Error, content type) as the caller receives them."""
    if answer.kind == "response":
        if len(answer.body) > MAX_RESPONSE:
            message = (
                "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE} bytes)."
            )
            return error_body(errors.RESPONSE_TOO_LARGE, message), "Unhandled", JSON
        return answer.body, None, answer.content_type
    if answer.kind in ("error", "init_error"):
        return answer.body, "Unhandled", JSON
    if answer.kind == "timeout" and answer.prior is not None:
        return payload(answer.prior, request_id, timeout_s)  # answered, then ran out of time
    if answer.kind == "timeout":
        message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
        return error_body(errors.SANDBOX_TIMEDOUT, message), "Unhandled", JSON
    if answer.prior is not None and answer.prior.kind in ("init_error", "response", "error"):
        # The runtime answered, then exited (an init error, or Node's uncaught exception):
        # the caller gets what was posted; the exit only resets the environment.
        return payload(answer.prior, request_id, timeout_s)
    kind = error_type(answer) or errors.RUNTIME_EXIT
    return error_body(kind, f"RequestId: {request_id} Error: {answer.exit_text}"), "Unhandled", JSON


def report_status(answer: Answer) -> tuple[str | None, str | None]:
    """The REPORT line's ``Status`` and ``Error Type`` (none for a response or handled error)."""
    if answer.kind == "timeout":
        return "timeout", None
    if answer.kind == "exit" and not answer.after_init_error:
        return "error", error_type(answer) or errors.RUNTIME_EXIT
    if answer.kind in ("exit", "init_error"):
        return "error", error_type(answer)
    return None, None
