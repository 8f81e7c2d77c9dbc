"""A runtime that dies mid-invocation: Runtime.ExitError texts, reset, nothing else affected."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from keepwarm import AsyncRuntime, Runtime, ServerConfig
from tests.helpers import REPORT_RE, function

CRASHER = """
import ctypes, os, signal, sys

calls = 0

def handler(event, context):
    global calls
    calls += 1
    how = event.get("how")
    if how == "sys.exit":
        sys.exit(event.get("code", 3))
    if how == "os._exit":
        os._exit(event.get("code", 5))
    if how == "segfault":
        ctypes.string_at(0)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "abort":
        os.abort()
    if how == "interrupt":
        raise KeyboardInterrupt
    return calls
"""

CASES = [
    ({"how": "sys.exit", "code": 3}, "Runtime exited with error: exit status 3"),
    ({"how": "sys.exit", "code": 0}, "Runtime exited without providing a reason"),
    ({"how": "os._exit", "code": 5}, "Runtime exited with error: exit status 5"),
    ({"how": "segfault"}, "Runtime exited with error: signal: segmentation fault"),
    ({"how": "sigkill"}, "Runtime exited with error: signal: killed"),
    ({"how": "abort"}, "Runtime exited with error: signal: aborted"),
    ({"how": "interrupt"}, "Runtime exited with error: signal: interrupt"),
]


@pytest.mark.parametrize(("event", "message"), CASES, ids=[c[1] for c in CASES])
def test_crash_gives_exit_error_and_the_environment_recovers(
    tmp_path: Path, server: ServerConfig, event: dict[str, object], message: str
) -> None:
    with Runtime([function(tmp_path, "crash", CRASHER)], server=server) as rt:
        assert rt.invoke("crash").json() == 1
        crashed = rt.invoke("crash", event)
        after = rt.invoke("crash")
    assert crashed.function_error == "Unhandled"
    assert json.loads(crashed.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: {message}",
    }
    assert f"RequestId: {crashed.request_id} Error: {message}\nRuntime.ExitError" in crashed.logs
    report = REPORT_RE.search(crashed.logs)
    assert report is not None and report["etype"] == "Runtime.ExitError"
    assert after.json() == 1  # globals reset: Init ran again
    assert after.env_id == crashed.env_id


def test_handled_errors_do_not_reset(tmp_path: Path, server: ServerConfig) -> None:
    source = """
    calls = 0

    class PaymentDeclined(Exception):
        pass

    def handler(event, context):
        global calls
        calls += 1
        if event.get("fail"):
            raise PaymentDeclined("card declined")
        return calls
    """
    with Runtime([function(tmp_path, "f", source)], server=server) as rt:
        rt.invoke("f")
        failed = rt.invoke("f", {"fail": True})
        after = rt.invoke("f")
    body = json.loads(failed.payload)
    assert body["errorType"] == "PaymentDeclined" and body["errorMessage"] == "card declined"
    assert body["requestId"] == failed.request_id
    assert body["stackTrace"][0].startswith('  File "/var/task/app.py", line ')
    assert "[ERROR] PaymentDeclined: card declined" in failed.logs
    assert after.json() == 3 and after.env_id == failed.env_id


def test_a_crash_does_not_disturb_other_invocations(tmp_path: Path, server: ServerConfig) -> None:
    slow = "import time\n\ndef handler(event, context):\n    time.sleep(0.5)\n    return 'ok'\n"

    async def main() -> tuple[object, object]:
        fns = [function(tmp_path, "crash", CRASHER), function(tmp_path, "slow", slow)]
        async with AsyncRuntime(fns, server=server) as rt:
            crashed, ok = await asyncio.gather(
                rt.invoke("crash", {"how": "segfault"}), rt.invoke("slow")
            )
            return crashed.error_type, ok.json()

    assert asyncio.run(main()) == ("Runtime.ExitError", "ok")


SCRIBBLER = """
import os, socket, struct

def handler(event, context):
    if event.get("scribble"):
        for fd in os.listdir("/proc/self/fd"):
            try:
                s = socket.socket(fileno=int(fd))
            except OSError:
                continue
            if s.family == socket.AF_UNIX:
                s.sendall(struct.pack(">II", 5, 0) + b"\\xff\\xfe{{{")
            s.detach()
    return os.getpid()
"""


def test_garbage_on_the_control_socket_is_a_runtime_error_not_a_timeout(
    tmp_path: Path, server: ServerConfig
) -> None:
    fn = function(tmp_path, "scribble", SCRIBBLER, timeout_s=30)
    with Runtime([fn], server=server) as rt:
        first = rt.invoke("scribble").json()
        broken = rt.invoke("scribble", {"scribble": True})
        after = rt.invoke("scribble")
    assert broken.function_error == "Unhandled"
    assert json.loads(broken.payload)["errorType"] == "Runtime.ExitError"
    assert broken.duration_ms < 10_000  # ended by the hang-up, not by the 30 s timeout
    assert after.start_kind.value == "cold" and after.json() != first


def test_a_crash_leaves_no_core_file(tmp_path: Path, server: ServerConfig) -> None:
    """Environments run with ``RLIMIT_CORE`` 0: a segfault reports at once, and no ``core``
    file lands in the code directory (the machine's ``core_pattern`` may be plain ``core``)."""
    limits = (
        "import resource\n"
        "def handler(event, context):\n"
        "    return resource.getrlimit(resource.RLIMIT_CORE)\n"
    )
    crash = function(tmp_path, "crash", CRASHER)
    with Runtime([crash, function(tmp_path, "limits", limits)], server=server) as rt:
        assert rt.invoke("limits").json() == [0, 0]
        assert rt.invoke("crash", {"how": "segfault"}).error_type == "Runtime.ExitError"
    assert not [p for p in tmp_path.rglob("core*") if p.is_file()]


ATEXIT = """
import atexit, sys

atexit.register(print, "atexit from init", flush=True)

def handler(event, context):
    atexit.register(print, "atexit from the handler", flush=True)
    sys.exit(2)
"""


def test_sys_exit_runs_atexit_hooks_as_python_does(tmp_path: Path, server: ServerConfig) -> None:
    with Runtime([function(tmp_path, "bye", ATEXIT)], server=server) as rt:
        result = rt.invoke("bye")
    assert result.error_type == "Runtime.ExitError"
    assert "atexit from the handler\natexit from init\n" in result.logs


BIG = """
calls = 0

def handler(event, context):
    global calls
    calls += 1
    return "x" * event["size"] if event.get("size") else {"calls": calls}
"""


def test_a_refused_oversize_response_resets_a_python_environment(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Lambda's Python runtime exits when its response over 6 MB is refused (413): the caller
    gets Function.ResponseSizeTooLarge and the next call starts from a fresh Init."""
    with Runtime([function(tmp_path, "big", BIG)], server=server) as rt:
        assert rt.invoke("big").json() == {"calls": 1}
        refused = rt.invoke("big", {"size": 6_291_556})
        after = rt.invoke("big")
    assert refused.error_type == "Function.ResponseSizeTooLarge"
    assert "LAMBDA_RUNTIME Failed to post handler success response. Http response code: 413." in (
        refused.logs
    )
    assert refused.logs.index("LAMBDA_RUNTIME") < refused.logs.index("END RequestId")
    assert after.json() == {"calls": 1} and "INIT_REPORT" in after.logs
