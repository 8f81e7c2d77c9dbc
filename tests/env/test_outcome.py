"""The caller-visible rules of ``env.outcome``, as a table (the processes are tested elsewhere)."""

from __future__ import annotations

import json
import signal

import pytest

from keepwarm.env.outcome import MAX_RESPONSE, Answer, error_type, payload

RID = "8f0c6a52-1111-4222-8333-444455556666"
ERR = json.dumps({"errorType": "ValueError", "errorMessage": "bad"}).encode()
INIT = json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": "x"}).encode()

CASES = [
    (Answer("response", b'"ok"'), b'"ok"', None, None),
    (Answer("response", b"raw", "application/unknown"), b"raw", None, None),
    (Answer("error", ERR), ERR, "Unhandled", "ValueError"),
    (Answer("init_error", INIT), INIT, "Unhandled", "Runtime.ImportModuleError"),
    (
        Answer("timeout"),
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {RID} Error: Task timed out after 3.00 seconds",
        },
        "Unhandled",
        "Sandbox.Timedout",
    ),
    (
        Answer("exit", status=3 << 8),
        {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {RID} Error: Runtime exited with error: exit status 3",
        },
        "Unhandled",
        "Runtime.ExitError",
    ),
    (
        Answer("exit", status=signal.SIGKILL, oom=True),
        {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {RID} Error: Runtime exited with error: signal: killed",
        },
        "Unhandled",
        "Runtime.OutOfMemory",
    ),
    (
        Answer("exit", status=1 << 8, prior=Answer("init_error", INIT)),
        INIT,
        "Unhandled",
        "Runtime.ImportModuleError",
    ),
    (
        Answer("exit", status=129 << 8, prior=Answer("error", ERR)),
        ERR,
        "Unhandled",
        "Runtime.ExitError",
    ),
]


@pytest.mark.parametrize(("answer", "body", "function_error", "etype"), CASES)
def test_payload_and_error_type(
    answer: Answer, body: object, function_error: str | None, etype: str | None
) -> None:
    got, fe, _ = payload(answer, RID, 3)
    assert (json.loads(got) if isinstance(body, dict) else got) == body
    assert fe == function_error
    assert error_type(answer) == etype


def test_oversize_response_becomes_response_size_too_large() -> None:
    got, fe, ct = payload(Answer("response", b"x" * (MAX_RESPONSE + 1)), RID, 3)
    assert (fe, ct) == ("Unhandled", "application/json")
    assert json.loads(got) == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
    }
    assert payload(Answer("response", b"x" * MAX_RESPONSE), RID, 3)[1] is None
