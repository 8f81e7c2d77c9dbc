"""Invoke error payloads (§9.3) and the unhandled-error log text (§7.3)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from keepwarm.runtimes.python import errors
from keepwarm.runtimes.python.errors import (
    FaultError,
    format_unhandled_log,
    invoke_error_payload,
)
from keepwarm.runtimes.python.handler import load_handler

from .conftest import TaskRoot

RUNTIME_FILE = os.path.join(os.path.dirname(os.path.abspath(errors.__file__)), "fake_loop.py")
NBSP = "\u00a0"


_LOOP = """
def call(f, *a):
    return f(*a)

def catch(f, *a):
    try:
        f(*a)
    except Exception as exc:
        return exc
    raise AssertionError("no exception")
"""


def _runtime_namespace() -> dict[str, Any]:
    """Functions whose frames lie in the runtime package, as the bootstrap loop's do."""
    namespace: dict[str, Any] = {}
    exec(compile(_LOOP, RUNTIME_FILE, "exec"), namespace)
    return namespace


_RUNTIME = _runtime_namespace()
runtime_call = _RUNTIME["call"]


def raised(function: Any, *args: Any) -> BaseException:
    """The exception ``function`` raises, caught in a runtime frame like the real loop."""
    exc: BaseException = _RUNTIME["catch"](function, *args)
    return exc


def test_fault_error_payload() -> None:
    fault = FaultError("Runtime.MarshalError", "Unable to marshal response: x")
    assert isinstance(fault, Exception)
    assert fault.stack_trace == []
    assert fault.payload("req") == {
        "errorMessage": "Unable to marshal response: x",
        "errorType": "Runtime.MarshalError",
        "requestId": "req",
        "stackTrace": [],
    }
    assert fault.payload()["requestId"] == ""


def test_invoke_error_uses_fault_type_and_message() -> None:
    fault = FaultError("Runtime.UnmarshalError", "Unable to unmarshal input: bad", ["t"])
    assert invoke_error_payload(fault, "r1") == {
        "errorMessage": "Unable to unmarshal input: bad",
        "errorType": "Runtime.UnmarshalError",
        "requestId": "r1",
        "stackTrace": ["t"],
    }


def test_handler_exception_payload_hides_runtime_frames(task_root: TaskRoot) -> None:
    path = task_root.write(
        "h.py", 'def handler(event, context):\n    raise Exception("Handler fails")\n'
    )
    handler = load_handler("h.handler")
    payload = invoke_error_payload(raised(handler, {}, None), "abc-123")
    assert payload == {
        "errorMessage": "Handler fails",
        "errorType": "Exception",
        "requestId": "abc-123",
        "stackTrace": [
            f'  File "{path}", line 2, in handler\n    raise Exception("Handler fails")\n'
        ],
    }


def test_stack_trace_has_no_caret_lines_and_all_user_frames(task_root: TaskRoot) -> None:
    path = task_root.write(
        "h.py",
        "def inner(x):\n    return 1 / x\n\ndef handler(event, context):\n    return inner(0)\n",
    )
    handler = load_handler("h.handler")
    payload = invoke_error_payload(raised(handler, {}, None), "r")
    assert payload["errorType"] == "ZeroDivisionError"
    assert payload["errorMessage"] == "division by zero"
    assert payload["stackTrace"] == [
        f'  File "{path}", line 5, in handler\n    return inner(0)\n',
        f'  File "{path}", line 2, in inner\n    return 1 / x\n',
    ]


def test_error_type_is_class_name_without_module(task_root: TaskRoot) -> None:
    task_root.write(
        "h.py",
        "class PaymentDeclined(Exception):\n    pass\n"
        "def handler(e, c):\n    raise PaymentDeclined('card 4242')\n",
    )
    payload = invoke_error_payload(raised(load_handler("h.handler"), {}, None), "r")
    assert (payload["errorType"], payload["errorMessage"]) == ("PaymentDeclined", "card 4242")


def test_only_leading_runtime_frames_are_dropped() -> None:
    def user() -> None:
        runtime_call(fail)

    def fail() -> None:
        raise ValueError("deep")

    trace = invoke_error_payload(raised(user), "r")["stackTrace"]
    assert isinstance(trace, list)
    assert [frame.split(", in ")[1].split("\n")[0] for frame in trace] == ["user", "call", "fail"]


def test_all_runtime_frames_are_kept_when_nothing_else() -> None:
    code = compile("def boom():\n    raise KeyError('k')\n", RUNTIME_FILE, "exec")
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    trace = invoke_error_payload(raised(namespace["boom"]), "r")["stackTrace"]
    assert isinstance(trace, list) and len(trace) == 2
    assert ", in catch\n" in trace[0] and ", in boom\n" in trace[1]
    assert all(RUNTIME_FILE in frame for frame in trace)


def test_empty_message() -> None:
    payload = invoke_error_payload(raised(_raise, RuntimeError()), "r")
    assert payload["errorMessage"] == ""


def _raise(exc: BaseException) -> None:
    raise exc


SAMPLE: dict[str, object] = {
    "errorMessage": "Handler fails",
    "errorType": "Exception",
    "requestId": "r",
    "stackTrace": [
        '  File "/var/task/h.py", line 2, in handler\n    raise Exception("Handler fails")\n'
    ],
}


def test_text_log_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_LOG_FORMAT", raising=False)
    assert format_unhandled_log(SAMPLE) == (
        "[ERROR] Exception: Handler fails\r"
        "Traceback (most recent call last):\r"
        f'{NBSP * 2}File "/var/task/h.py", line 2, in handler\r'
        f'{NBSP * 4}raise Exception("Handler fails")'
    )


@pytest.mark.parametrize(
    ("error_type", "message", "trace", "expected"),
    [
        ("T", "", [], "[ERROR] T\rTraceback (most recent call last):"),
        ("", "msg", [], "[ERROR] msg\rTraceback (most recent call last):"),
        ("T", "m", ["", "  a  b\n"],
         f"[ERROR] T: m\rTraceback (most recent call last):\r\r{NBSP * 2}a  b"),
        ("Runtime.ImportModuleError", "Unable to import module 'x': No module named 'x'", [],
         "[ERROR] Runtime.ImportModuleError: Unable to import module 'x': No module named 'x'\r"
         "Traceback (most recent call last):"),
    ],
)  # fmt: skip
def test_text_log_line_shapes(
    monkeypatch: pytest.MonkeyPatch, error_type: str, message: str, trace: list[str], expected: str
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_LOG_FORMAT", raising=False)
    payload: dict[str, object] = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": "",
        "stackTrace": trace,
    }
    assert format_unhandled_log(payload) == expected


def test_json_log_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_LOG_FORMAT", "JSON")
    line = format_unhandled_log(SAMPLE)
    assert "\n" not in line
    parsed = json.loads(line)
    assert list(parsed) == [
        "timestamp",
        "level",
        "errorMessage",
        "errorType",
        "requestId",
        "stackTrace",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", parsed["timestamp"])
    assert parsed["level"] == "ERROR"
    assert {k: parsed[k] for k in SAMPLE} == SAMPLE


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def log_error(self, lines: list[str]) -> None:
        self.text = "\r".join(lines)


@pytest.mark.parametrize(
    "payload",
    [
        SAMPLE,
        {"errorMessage": "", "errorType": "E", "requestId": "", "stackTrace": []},
        {
            "errorMessage": "m\nn",
            "errorType": "",
            "requestId": "",
            "stackTrace": ["", "   x\n y\n"],
        },
    ],
)
def test_text_log_matches_awslambdaric(
    monkeypatch: pytest.MonkeyPatch, payload: dict[str, object]
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_LOG_FORMAT", raising=False)
    bootstrap: Any = pytest.importorskip("awslambdaric.bootstrap")
    if bootstrap._AWS_LAMBDA_LOG_FORMAT != bootstrap.LogFormat.TEXT:
        pytest.skip("awslambdaric was imported in JSON mode")
    sink = _Sink()
    bootstrap.log_error(payload, sink)
    assert format_unhandled_log(payload) == sink.text
