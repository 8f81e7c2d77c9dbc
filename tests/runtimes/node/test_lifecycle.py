"""Crashes and timeouts of Node functions reset the environment: globals gone, /tmp kept (§1.7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepwarm import Runtime
from keepwarm.invocation import StartKind
from tests.helpers import REPORT_RE
from tests.runtimes.node.conftest import RuntimeFactory, node_function

pytestmark = pytest.mark.node

APP = """
const fs = require('fs');
let calls = 0;
exports.handler = async (event) => {
  calls += 1;
  const file = '/tmp/keepwarm-node-marker';
  const existed = fs.existsSync(file);
  fs.writeFileSync(file, 'kept');
  if (event.how === 'throw-later') {
    setTimeout(() => { throw new Error('uncaught boom'); }, 5);
    return new Promise(() => {});
  }
  if (event.how === 'reject-later') {
    Promise.reject(new Error('nobody catches me'));
    return new Promise(() => {});
  }
  if (event.how === 'hang') return new Promise((r) => setTimeout(r, 60000));
  if (event.how === 'exit') process.exit(3);
  return { calls, existed, pid: process.pid };
};
"""


@pytest.fixture
def rt(runtime: RuntimeFactory, tmp_path: Path) -> Runtime:
    return runtime(
        node_function(tmp_path, "crashy", {"index.js": APP}, timeout_s=10),
        node_function(tmp_path, "slow", {"index.js": APP}, timeout_s=1),
    )


def test_uncaught_exception_posts_the_error_then_resets(rt: Runtime) -> None:
    warm = rt.invoke("crashy", {})
    assert warm.json()["calls"] == 1
    crashed = rt.invoke("crashy", {"how": "throw-later"})
    body = crashed.json()
    assert crashed.function_error == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("Error", "uncaught boom")
    assert "\tERROR\tUncaught Exception \t{" in crashed.logs
    assert "Runtime exited with error: exit status 129" in crashed.logs
    after = rt.invoke("crashy", {})
    assert after.start_kind is StartKind.COLD
    assert after.json()["calls"] == 1  # globals reset
    assert after.json()["existed"] is True  # /tmp kept
    assert after.json()["pid"] != warm.json()["pid"]


def test_unhandled_rejection_posts_the_error_then_resets(rt: Runtime) -> None:
    rt.invoke("crashy", {})
    result = rt.invoke("crashy", {"how": "reject-later"})
    assert result.json()["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert result.json()["errorMessage"] == "Error: nobody catches me"
    assert "exit status 128" in result.logs
    assert rt.invoke("crashy", {}).json()["calls"] == 1


def test_process_exit_is_runtime_exit_error(rt: Runtime) -> None:
    result = rt.invoke("crashy", {"how": "exit"})
    assert result.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
        "exit status 3",
    }


def test_timeout_kills_and_resets_keeping_tmp(rt: Runtime) -> None:
    first = rt.invoke("slow", {})
    assert first.json()["calls"] == 1
    timed_out = rt.invoke("slow", {"how": "hang"})
    assert timed_out.json() == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 "
        "seconds",
    }
    match = REPORT_RE.search(timed_out.logs)
    assert match and match["status"] == "timeout"
    after = rt.invoke("slow", {})
    assert after.json()["calls"] == 1 and after.json()["existed"] is True


def test_start_report_frame_node_output(rt: Runtime) -> None:
    result = rt.invoke("crashy", {})
    lines = result.logs.splitlines()
    assert lines[0].startswith("INIT_START Runtime Version: nodejs:20")
    assert lines[1] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result.request_id}"
    assert REPORT_RE.search(lines[-1])
    assert json.loads(result.payload)["calls"] == 1
