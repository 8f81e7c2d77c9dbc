"""The Python runtime behaves the same over the pipe and over the Runtime API (design §2).

Each core behaviour runs once per transport. For the whole suite in Runtime API mode, run
``KEEPWARM_PYTHON_TRANSPORT=runtime-api .venv/bin/pytest`` (ServerConfig reads that variable).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm import Runtime, ServerConfig
from keepwarm.invocation import StartKind
from tests.helpers import REPORT_RE, function

APP = """
import os, sys

calls = 0

def handler(event, context):
    global calls
    calls += 1
    how = event.get("how")
    if how == "raise":
        raise KeyError("missing")
    if how == "exit":
        sys.exit(4)
    if how == "hang":
        import time
        time.sleep(30)
    if how == "big":
        return "x" * 6_300_000
    if how == "bytes":
        return b"\\x00\\x01"
    print("call", calls)
    open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "mark"), "w").write("kept")
    return {
        "calls": calls,
        "event": event,
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "client": context.client_context.custom if context.client_context else None,
        "api": os.environ["AWS_LAMBDA_RUNTIME_API"],
        "tmp": os.path.exists(os.path.join(os.environ.get("TMPDIR", "/tmp"), "mark")),
    }
"""


@pytest.fixture(params=["pipe", "runtime-api"])
def rt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    functions = [
        function(tmp_path, "fn", APP, timeout_s=2),
        function(tmp_path, "broken", "raise RuntimeError('init failed')\n"),
    ]
    server = ServerConfig(data_dir=tmp_path / "data", python_transport=request.param)
    with Runtime(functions, server=server) as runtime:
        yield runtime


def test_success_reuse_and_context(rt: Runtime) -> None:
    first = rt.invoke("fn", {"k": "v"}, client_context='{"custom":{"a":1}}')
    second = rt.invoke("fn", {})
    body = first.json()
    assert (body["calls"], body["event"], body["client"]) == (1, {"k": "v"}, {"a": 1})
    assert 1000 < body["remaining"] <= 2000
    assert body["request_id"] == first.request_id
    assert body["arn"].endswith(":function:fn")
    assert second.json()["calls"] == 2
    assert (first.start_kind, second.start_kind) == (StartKind.COLD, StartKind.WARM)
    assert first.env_id == second.env_id
    mode = rt._async.server.python_transport
    assert (body["api"] == "127.0.0.1:9001") == (mode == "pipe")


def test_logs_are_framed(rt: Runtime) -> None:
    result = rt.invoke("fn", {})
    lines = result.logs.splitlines()
    i = lines.index(f"START RequestId: {result.request_id} Version: $LATEST")
    assert lines[i + 1] == "call 1"
    assert lines[i + 2] == f"END RequestId: {result.request_id}"
    assert REPORT_RE.search(result.logs)["i"] is not None  # type: ignore[index]


def test_handler_error_keeps_the_environment(rt: Runtime) -> None:
    rt.invoke("fn", {})
    failed = rt.invoke("fn", {"how": "raise"})
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorType"] == "KeyError"
    assert failed.json()["requestId"] == failed.request_id
    assert rt.invoke("fn", {}).json()["calls"] == 3


def test_binary_result(rt: Runtime) -> None:
    result = rt.invoke("fn", {"how": "bytes"})
    assert result.payload == b"\x00\x01" and result.content_type == "application/unknown"


def test_oversize_response(rt: Runtime) -> None:
    result = rt.invoke("fn", {"how": "big"})
    assert result.json() == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
    }
    assert rt.invoke("fn", {}).ok


def test_crash_and_timeout_reset_but_keep_tmp(rt: Runtime) -> None:
    rt.invoke("fn", {})
    crashed = rt.invoke("fn", {"how": "exit"})
    assert crashed.json()["errorType"] == "Runtime.ExitError"
    assert "exit status 4" in crashed.json()["errorMessage"]
    after = rt.invoke("fn", {})
    assert after.json()["calls"] == 1 and after.json()["tmp"] is True
    timed_out = rt.invoke("fn", {"how": "hang"})
    assert timed_out.json()["errorType"] == "Sandbox.Timedout"
    assert rt.invoke("fn", {}).json()["calls"] == 1


def test_init_error(rt: Runtime) -> None:
    for _ in range(2):
        result = rt.invoke("broken", {})
        assert result.function_error == "Unhandled"
        assert result.json()["errorType"] == "RuntimeError"
        assert result.json()["errorMessage"] == "init failed"
