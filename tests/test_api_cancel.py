"""Callers that stop waiting, and a runtime closed under a running invocation (Python API).

A caller giving up must not stop the invocation (on Lambda it runs to its end and its
environment is reused), and closing the runtime must end in-flight calls with a clear error,
not an internal one, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import logging
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
