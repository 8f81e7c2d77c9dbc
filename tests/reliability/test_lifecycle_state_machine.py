"""A Hypothesis state machine drives real environments through invoke / error / crash / timeout /
concurrent bursts / reclaim sequences (Python API, real processes, a fake clock for reclaim).

After every step: every environment is in a legal resting state (idle or reset: never busy,
initializing or stopping with nobody waiting), the processes alive under the fork server are
exactly the idle environments' processes, each result has one of the documented shapes, and a
reset environment's next invocation is a cold start with Init run again. The transition table
itself refuses illegal moves (``IllegalTransition`` would fail the step).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from keepwarm import FunctionConfig, Runtime, ServerConfig, StartKind
from keepwarm.clock import FakeClock
from keepwarm.invocation import InvocationResult
from tests.helpers import alive, wait_for, write_code

KEEP_ALIVE = 60.0
SOURCE = """
import os, time

inits = globals().get("inits", 0) + 1

def handler(event, context):
    how = event["how"]
    if how == "raise":
        raise KeyError("k%d" % event["n"])
    if how == "exit":
        os._exit(7)
    if how == "sleep":
        time.sleep(30)
    return {"n": event["n"], "pid": os.getpid(), "inits": inits}
"""
SHAPES = {
    "ok": None,
    "raise": "KeyError",
    "exit": "Runtime.ExitError",
    "sleep": "Sandbox.Timedout",
}
RESTING = {"idle", "reset"}
HOW = st.sampled_from(["ok", "ok", "ok", "raise", "exit"])


def _children_of(pid: int) -> set[int]:
    from kw_server import descendants

    return descendants(pid)


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="keepwarm-sm-"))
        code = write_code(self.dir / "code", {"app.py": SOURCE})
        self.clock = FakeClock()
        server = ServerConfig(data_dir=self.dir / "data", keep_alive_s=KEEP_ALIVE)
        fn = FunctionConfig(name="sm", handler="app.handler", code_dir=code, timeout_s=1)
        self.rt = Runtime([fn], server=server, clock=self.clock).start()
        self.n = 0
        self.reset_envs: set[str] = set()  # environments whose next invocation re-runs Init

    def teardown(self) -> None:
        envs = self.rt.environments("sm")
        pids = {e["pid"] for e in envs if e["pid"]}
        self.rt.close()
        wait_for(lambda: not any(alive(p) for p in pids), timeout=15, what="environments to stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- steps ----------------------------------------------------------------------------------
    def _call(self, how: str) -> InvocationResult:
        self.n += 1
        return self.rt.invoke("sm", {"how": how, "n": self.n})

    def _check(self, how: str, result: InvocationResult) -> None:
        expected = SHAPES[how]
        if expected is None:
            assert result.function_error is None, result.payload
            body = result.json()
            assert body["n"] and body["pid"] > 0 and body["inits"] == 1
        else:
            assert result.function_error == "Unhandled"
            body = json.loads(result.payload)
            assert body["errorType"] == expected, body
            assert isinstance(body["errorMessage"], str)
        assert result.logs.rstrip().splitlines()[-1].startswith("REPORT RequestId: ")
        if result.env_id in self.reset_envs:  # a reset environment re-runs Init in the invoke
            assert result.start_kind is StartKind.COLD
            assert "INIT_REPORT" in result.logs
            self.reset_envs.discard(result.env_id)
        if how in ("exit", "sleep"):
            self.reset_envs.add(result.env_id)

    @rule(how=HOW)
    def invoke(self, how: str) -> None:
        self._check(how, self._call(how))

    @rule()
    def invoke_timeout(self) -> None:
        if self.n % 5:  # timeouts cost a real second each: keep them to a few per run
            self.n += 1
            return
        self._check("sleep", self._call("sleep"))

    @rule(hows=st.lists(HOW, min_size=2, max_size=5))
    def burst(self, hows: list[str]) -> None:
        with ThreadPoolExecutor(len(hows)) as pool:
            results = list(pool.map(self._call, hows))
        for how, result in zip(hows, results, strict=True):
            self._check(how, result)

    @precondition(lambda self: bool(self.rt.environments("sm")))
    @rule()
    def reclaim(self) -> None:
        self.clock.advance(KEEP_ALIVE + 1)
        self.rt.reclaim()
        assert self.rt.environments("sm") == []
        self.reset_envs.clear()

    # -- invariants -----------------------------------------------------------------------------
    @invariant()
    def states_are_legal_and_at_rest(self) -> None:
        for env in self.rt.environments("sm"):
            assert env["state"] in RESTING, env
            assert (env["pid"] is not None) == (env["state"] == "idle"), env

    @invariant()
    def processes_are_exactly_the_idle_environments(self) -> None:
        expected = {e["pid"] for e in self.rt.environments("sm") if e["state"] == "idle"}
        zygotes = [p for p in _children_of(os.getpid()) if _is_zygote(p)]

        spares = self.rt._async.host.spares  # waiting processes, not environments

        def settled() -> bool:
            live = set().union(*(_children_of(z) for z in zygotes)) if zygotes else set()
            waiting = spares.pids if spares is not None else set()
            return {p for p in live if alive(p)} - waiting == expected

        wait_for(settled, timeout=10, what="live processes to match the idle environments")


def _is_zygote(pid: int) -> bool:
    try:
        return b"keepwarm.env.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


Lifecycle.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
TestLifecycle = pytest.mark.slow(pytest.mark.timeout(600)(Lifecycle.TestCase))


def test_state_machine_helpers_see_the_runtime_processes() -> None:
    """Guard: the process invariant must not pass vacuously (no zygote found)."""
    machine = Lifecycle()
    try:
        machine.invoke("ok")
        zygotes = [p for p in _children_of(os.getpid()) if _is_zygote(p)]
        assert zygotes
        envs: list[dict[str, Any]] = machine.rt.environments("sm")
        assert [e["pid"] for e in envs] and set().union(*map(_children_of, zygotes))
    finally:
        machine.teardown()
