"""Timeouts and memory limits: Lambda's exact error shapes, and what survives a reset."""

from __future__ import annotations

import json
from pathlib import Path

from keepwarm import Runtime, ServerConfig, StartKind
from tests.helpers import REPORT_RE, function

SLEEPER = """
import os, time

state = "initial"

def handler(event, context):
    global state
    before = state
    state = "changed"
    if event.get("write"):
        with open("/tmp/marker", "w") as fh:
            fh.write("kept")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    marker = open("/tmp/marker").read() if os.path.exists("/tmp/marker") else None
    return {"state": before, "marker": marker}
"""


def test_timeout_shape_then_globals_reset_and_tmp_kept(
    tmp_path: Path, server: ServerConfig
) -> None:
    cfg = function(tmp_path, "slow", SLEEPER, timeout_s=1)
    with Runtime([cfg], server=server) as rt:
        rt.invoke("slow", {"write": True})
        timed_out = rt.invoke("slow", {"sleep": 30})
        after = rt.invoke("slow", {})
    assert timed_out.function_error == "Unhandled"
    assert json.loads(timed_out.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: "
        "Task timed out after 1.00 seconds",
    }
    assert f"{timed_out.request_id} Task timed out after 1.00 seconds" in timed_out.logs
    report = REPORT_RE.search(timed_out.logs)
    assert report is not None and report["status"] == "timeout"
    assert 1000 <= float(report["d"]) < 5000
    assert after.json() == {"state": "initial", "marker": "kept"}
    assert after.env_id == timed_out.env_id and after.start_kind is StartKind.COLD
    assert REPORT_RE.search(after.logs)["i"] is None  # type: ignore[index]
    assert "INIT_REPORT Init Duration:" in after.logs and "Phase: invoke" in after.logs


def test_timeout_kills_the_whole_process_group(tmp_path: Path, server: ServerConfig) -> None:
    source = """
    import subprocess, sys, time

    def handler(event, context):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(event["pidfile"], "w") as fh:
            fh.write(str(child.pid))
        time.sleep(30)
    """
    pidfile = Path("/var/tmp") / f"keepwarm-test-{tmp_path.name}.pid"
    with Runtime([function(tmp_path, "f", source, timeout_s=1)], server=server) as rt:
        result = rt.invoke("f", {"pidfile": str(pidfile)})
        child = int(pidfile.read_text())
        pidfile.unlink()
        from tests.helpers import alive, wait_for

        wait_for(lambda: not alive(child), timeout=10, what="the handler's child to be killed")
    assert result.error_type == "Sandbox.Timedout"


def test_out_of_memory_shape_and_recovery(tmp_path: Path, server: ServerConfig) -> None:
    source = """
    def handler(event, context):
        if event.get("hog"):
            blocks = []
            while True:
                blocks.append(bytearray(16 * 1024 * 1024))
        return "fine"
    """
    with Runtime([function(tmp_path, "hog", source, memory_mb=128)], server=server) as rt:
        oom = rt.invoke("hog", {"hog": True})
        after = rt.invoke("hog", {})
    assert json.loads(oom.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {oom.request_id} Error: Runtime exited with error: "
        "signal: killed",
    }
    report = REPORT_RE.search(oom.logs)
    assert report is not None and report["etype"] == "Runtime.OutOfMemory"
    assert 100 <= int(report["u"]) <= 140
    assert after.json() == "fine"


def test_max_memory_used_is_the_real_peak(tmp_path: Path, server: ServerConfig) -> None:
    source = """
    def handler(event, context):
        data = bytearray(event["mb"] * 1024 * 1024)
        return len(data)
    """
    with Runtime([function(tmp_path, "m", source, memory_mb=512)], server=server) as rt:
        small = rt.invoke("m", {"mb": 1})
        big = rt.invoke("m", {"mb": 200})
    assert small.max_memory_mb < 100
    assert 200 <= big.max_memory_mb < 512


def test_memory_limit_without_cgroups_by_watching_rss(tmp_path: Path) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", memory_enforcement="rss")
    source = """
    import time

    def handler(event, context):
        blocks = []
        while True:
            blocks.append(bytearray(8 * 1024 * 1024))
            time.sleep(0.01)
    """
    with Runtime(
        [function(tmp_path, "hog", source, memory_mb=128, timeout_s=30)], server=server
    ) as rt:
        result = rt.invoke("hog")
    assert result.error_type == "Runtime.OutOfMemory"
    assert result.json()["errorMessage"].endswith("Runtime exited with error: signal: killed")


def test_init_longer_than_the_init_timeout_is_retried_in_the_invoke(tmp_path: Path) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", init_timeout_s=0.3)
    source = """
    import time
    time.sleep(5)

    def handler(event, context):
        return "never"
    """
    with Runtime([function(tmp_path, "slowinit", source, timeout_s=1)], server=server) as rt:
        result = rt.invoke("slowinit")
    assert result.error_type == "Sandbox.Timedout"
    assert "Phase: init\tStatus: timeout" in result.logs
    assert "Phase: invoke\tStatus: timeout" in result.logs
