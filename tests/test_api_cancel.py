"""Callers that stop waiting, and a runtime closed under a running invocation (Python API).

A caller giving up must not stop the invocation (on Lambda it runs to its end and its
environment is reused), and closing the runtime must end in-flight calls with a clear error,
not an internal one, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from keepwarm import AsyncRuntime, Runtime, ServerConfig, StartKind, Throttled
from keepwarm.env.state import EnvState
from keepwarm.errors import KeepwarmError, ServiceFailure
from tests.helpers import SLEEPY_COUNTER, alive, function, wait_for


async def _until(predicate: object, what: str) -> None:
    for _ in range(3000):  # up to ~30 s
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_caller_that_stops_waiting_does_not_strand_the_environment(
    tmp_path: Path, server: ServerConfig
) -> None:
    config = function(tmp_path, "f", SLEEPY_COUNTER, reserved_concurrency=1, timeout_s=30)

    async def main() -> None:
        async with AsyncRuntime([config], server=server) as rt:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(rt.invoke("f", {"sleep": 0.5}), 0.05)
            with pytest.raises(Throttled):  # still running: it holds the one slot
                await rt.invoke("f")
            envs = rt.pool("f").envs
            await _until(lambda: [e.state for e in envs.values()] == [EnvState.IDLE], "idle")
            again = await rt.invoke("f")
            assert again.json()["n"] == 2 and again.start_kind is StartKind.WARM
            assert len(envs) == 1

    asyncio.run(main())


def test_closing_under_a_running_invocation_ends_it_with_a_service_error(
    tmp_path: Path, server: ServerConfig
) -> None:
    rt = Runtime([function(tmp_path, "f", SLEEPY_COUNTER, timeout_s=60)], server=server).start()
    outcome: list[BaseException | object] = []

    def call() -> None:
        try:
            outcome.append(rt.invoke("f", {"sleep": 30}))
        except BaseException as exc:  # the test inspects what arrived
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: [e["state"] for e in rt.environments("f")] == ["busy"], what="busy")
    pid = rt.environments("f")[0]["pid"]
    rt.close()
    caller.join(timeout=30)
    [error] = outcome
    assert isinstance(error, ServiceFailure) and "shutting down" in str(error)
    assert not alive(pid)


def test_a_cancelled_ainvoke_is_quiet_and_its_environment_reused(
    tmp_path: Path, server: ServerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    with Runtime([function(tmp_path, "f", SLEEPY_COUNTER)], server=server) as rt:

        async def give_up() -> None:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(rt.ainvoke("f", {"sleep": 0.3}), 0.05)

        asyncio.run(give_up())
        wait_for(lambda: [e["state"] for e in rt.environments("f")] == ["idle"], what="idle")
        assert rt.invoke("f").json()["n"] == 2
    assert not [
        r for r in caplog.records if "InvalidStateError" in r.getMessage() + str(r.exc_info)
    ]


def test_a_closed_runtime_says_so(tmp_path: Path, server: ServerConfig) -> None:
    rt = Runtime([function(tmp_path, "f", SLEEPY_COUNTER)], server=server)
    with rt:
        assert rt.invoke("f").json()["n"] == 1
    with pytest.raises(KeepwarmError, match="this Runtime is closed"):
        rt.invoke("f")
    with pytest.raises(KeepwarmError, match="this Runtime is closed"):
        asyncio.run(rt.ainvoke("f"))


# Says it runs (in its log stream), then sleeps until killed.
_SLEEPER = """
import os, time
def handler(event, context):
    print("running", os.getpid(), flush=True)
    time.sleep(300)
"""

# A script blocked in Runtime.invoke (its own thread drives the loop), waiting for Ctrl-C.
_INTERRUPTED = """
import sys
from pathlib import Path
from keepwarm import Runtime, ServerConfig
from keepwarm.config import FunctionConfig
fn = FunctionConfig(name="f", handler="app.handler", code_dir=Path(sys.argv[1]), timeout_s=300)
with Runtime([fn], server=ServerConfig(data_dir=Path(sys.argv[2]))) as rt:
    rt.invoke("f")
"""


def _running_pid(logs: Path) -> int | None:
    for stream in logs.rglob("*"):
        for line in stream.read_text().splitlines() if stream.is_file() else []:
            if line.startswith("running "):
                return int(line.split()[1])
    return None


def test_ctrl_c_in_a_blocking_invoke_shows_one_traceback_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    """The invocation Ctrl-C left behind used to end (when the ``with`` block closed the
    runtime) with a second traceback, "Task exception was never retrieved ... ServiceFailure"."""
    code, data = function(tmp_path, "f", _SLEEPER).code_dir, tmp_path / "d"
    script = [sys.executable, "-c", textwrap.dedent(_INTERRUPTED), str(code), str(data)]
    proc = subprocess.Popen(script, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _running_pid(data / "logs") is not None, what="the handler to run")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGINT, stderr
    assert stderr.count("Traceback") == 1 and stderr.endswith("\nKeyboardInterrupt\n"), stderr
    env_pid = _running_pid(data / "logs")
    assert env_pid is not None
    wait_for(lambda: not alive(env_pid), what="the environment to end")
