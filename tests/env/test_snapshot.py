"""Snapshot mode ("init once, fork many") behaves as normal mode except for Init time.

Each environment forked from a function's template still has its own process, group, cgroup,
/tmp, log stream, limits and random state; what Init computed is shared by design (pinned here
so the documented hazards in docs/snapshot.md stay true). Timing is never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from keepwarm import Runtime, ServerConfig
from keepwarm.env.owner import stat_fields
from tests.env.test_forkserver import PROBE, assert_isolated, cold_probes
from tests.helpers import SLEEPY_COUNTER, alive, function, wait_for


@pytest.fixture
def server(tmp_path: Path) -> ServerConfig:
    """Snapshot templates need functions to keep the server's user (see docs/snapshot.md)."""
    return ServerConfig(data_dir=tmp_path / "data", run_as="root")


SUITE = {
    "echo": """
    def handler(event, context):
        return event
    """,
    "context": """
    import os
    def handler(event, context):
        return [context.function_name, context.memory_limit_in_mb, os.environ["GREETING"],
                os.getcwd(), context.get_remaining_time_in_millis() > 0]
    """,
    "error": """
    def handler(event, context):
        raise ValueError("bad " + str(event["n"]))
    """,
    "tmp": """
    import os
    with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "from-init"), "w") as fh:
        fh.write("init")

    def handler(event, context):
        tmp = os.environ.get("TMPDIR", "/tmp")
        return open(os.path.join(tmp, "from-init")).read()
    """,
    "bytes": """
    def handler(event, context):
        return b"raw"
    """,
    "init_error": """
    raise RuntimeError("broken at import")

    def handler(event, context):
        return 1
    """,
}


def _suite(tmp_path: Path, snapshot: bool) -> list[Any]:
    configs = [
        function(
            tmp_path / ("s" if snapshot else "n"),
            name,
            source,
            snapshot=snapshot,
            environment={"GREETING": "hi"},
        )
        for name, source in SUITE.items()
    ]
    server = ServerConfig(data_dir=tmp_path / ("ds" if snapshot else "dn"), run_as="root")
    out: list[Any] = []
    with Runtime(configs, server=server) as rt:
        for name in SUITE:
            for event in ({"n": 1}, {"n": 2}):
                r = rt.invoke(name, event)
                body = json.loads(r.payload) if r.content_type == "application/json" else r.payload
                if isinstance(body, dict):
                    body.pop("stackTrace", None)
                    body.pop("requestId", None)
                out.append((name, r.function_error, r.content_type, body, r.start_kind.value))
    return out


def test_snapshot_mode_gives_the_same_results_as_normal_mode(tmp_path: Path) -> None:
    assert _suite(tmp_path, snapshot=True) == _suite(tmp_path, snapshot=False)


def test_snapshot_environments_are_isolated(tmp_path: Path, server: ServerConfig) -> None:
    cfg = function(tmp_path, "probe", PROBE, snapshot=True, max_invocations_per_env=1)
    with Runtime([cfg], server=server) as rt:
        probes = cold_probes(rt, "probe", 3)
    assert_isolated(probes)
    assert len({p["env"] for p in probes}) == 3  # own log stream name per environment
    # The documented hazard: what Init computed is one value shared by every environment.
    assert len({p["init_random"] for p in probes}) == 1
    assert len({p["init_uuid"] for p in probes}) == 1
    assert all(p["init_pid"] != p["pid"] for p in probes)


def test_memory_limit_applies_to_snapshot_environments(
    tmp_path: Path, server: ServerConfig
) -> None:
    source = """
    blocks = []

    def handler(event, context):
        while True:
            blocks.append(bytearray(16 * 1024 * 1024))
    """
    cfg = function(tmp_path, "hog", source, memory_mb=128, snapshot=True, timeout_s=30)
    with Runtime([cfg], server=server) as rt:
        first = rt.invoke("hog", {})
        again = rt.invoke("hog", {})
    for result in (first, again):
        assert json.loads(result.payload)["errorType"] == "Runtime.OutOfMemory"


def test_timeout_kills_a_snapshot_environment_and_the_next_call_is_cold(
    tmp_path: Path, server: ServerConfig
) -> None:
    cfg = function(tmp_path, "slow", SLEEPY_COUNTER, snapshot=True, timeout_s=1)
    with Runtime([cfg], server=server) as rt:
        assert rt.invoke("slow", {}).json()["n"] == 1
        timed_out = rt.invoke("slow", {"sleep": 10})
        after = rt.invoke("slow", {})
    assert json.loads(timed_out.payload)["errorType"] == "Sandbox.Timedout"
    assert after.json()["n"] == 1 and after.start_kind.value == "cold"


@pytest.mark.parametrize("snapshot", [True, False])
def test_init_uniqueness_findings_are_warnings_for_snapshot_functions(
    tmp_path: Path, server: ServerConfig, snapshot: bool
) -> None:
    source = """
    import uuid
    INSTANCE = uuid.uuid4()

    def handler(event, context):
        return str(INSTANCE)
    """
    cfg = function(tmp_path, "uniq", source, snapshot=snapshot)
    with Runtime([cfg], server=server) as rt:
        warnings = [w for w in rt.warnings if "KW106" in w]
        assert not rt._async.host.launcher.template_failures
    assert bool(warnings) is snapshot
    if snapshot:
        assert "snapshot function uniq" in warnings[0] and "app.py:3" in warnings[0]


def test_a_relative_data_dir_works_for_snapshot_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot's environments bind paths under the data dir after changing directory: a
    relative one (the default ``.keepwarm``) used to fail every call with exit status 126."""
    monkeypatch.chdir(tmp_path)
    fn = function(tmp_path, "snap", "def handler(e, c):\n    return 'snap'\n", snapshot=True)
    server = ServerConfig(data_dir=Path("relative-data"), run_as="root")
    assert server.data_dir == tmp_path / "relative-data"
    with Runtime([fn], server=server) as rt:
        assert [rt.invoke("snap").json() for _ in range(2)] == ["snap", "snap"]


def _parent(pid: int) -> int:
    fields = stat_fields(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[1])


def test_an_init_over_the_memory_limit_fails_as_in_normal_mode(
    tmp_path: Path, server: ServerConfig
) -> None:
    source = """
    BIG = bytearray(300 * 1024 * 1024)
    for i in range(0, len(BIG), 4096):
        BIG[i] = 1

    def handler(event, context):
        return len(BIG)
    """
    cfg = function(tmp_path, "big", source, memory_mb=128, snapshot=True)
    with Runtime([cfg], server=server) as rt:
        result = rt.invoke("big")
    assert json.loads(result.payload)["errorType"] == "Runtime.OutOfMemory"


def test_each_deployment_gets_its_own_template_and_replaced_ones_stop(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Code edited on disk and added again, or a new memory size read at Init, is never
    served from the older template; the older template ends with its last environment."""
    source = """
    import os
    from pathlib import Path
    V = (Path(__file__).parent / "v.txt").read_text()
    MEMORY = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]

    def handler(event, context):
        return [V, MEMORY, os.getpid()]
    """
    cfg = function(tmp_path, "dep", source, snapshot=True)
    (cfg.code_dir / "v.txt").write_text("v1")
    with Runtime([cfg], server=server) as rt:
        v1, memory, pid = rt.invoke("dep").json()
        first_template = _parent(pid)
        (cfg.code_dir / "v.txt").write_text("v2")
        rt.add(cfg)
        assert rt.invoke("dep").json()[:2] == ["v2", "128"]
        rt.add(cfg.with_changes(memory_mb=1024))
        v, memory, pid = rt.invoke("dep").json()
        assert (v, memory) == ("v2", "1024") and _parent(pid) != first_template
        rt.reclaim()
        wait_for(lambda: not alive(first_template), what="the replaced template to end")
    assert v1 == "v1"


def test_a_template_init_past_the_init_timeout_times_out_as_in_normal_mode(
    tmp_path: Path,
) -> None:
    source = """
    import time
    time.sleep(5)

    def handler(event, context):
        return "ok"
    """
    outcomes = []
    for snapshot in (True, False):
        cfg = function(tmp_path / str(snapshot), "slow", source, snapshot=snapshot, timeout_s=3)
        server = ServerConfig(data_dir=tmp_path / f"d{snapshot}", run_as="root", init_timeout_s=2)
        with Runtime([cfg], server=server) as rt:
            result = rt.invoke("slow")
        outcomes.append(json.loads(result.payload).get("errorType"))
        assert "Traceback" not in result.logs
    assert outcomes == ["Sandbox.Timedout", "Sandbox.Timedout"]


# A snapshot function whose template's Init outlives init_timeout_s, in a process of its own.
_SLOW_TEMPLATE = """
import sys
from pathlib import Path
from keepwarm import Runtime, ServerConfig
from keepwarm.config import FunctionConfig
fn = FunctionConfig(
    name="slow", handler="app.handler", code_dir=Path(sys.argv[1]), snapshot=True, timeout_s=3
)
server = ServerConfig(data_dir=Path(sys.argv[2]), run_as="root", init_timeout_s=1)
with Runtime([fn], server=server) as rt:
    print(rt.invoke("slow").json()["errorType"], flush=True)
"""


def test_a_template_that_did_not_start_leaves_nothing_on_stderr(tmp_path: Path) -> None:
    """A template given up on (Init past init_timeout_s) is closed; its start signal, which
    nobody awaited any more, used to fail and be printed as "Future exception was never
    retrieved ... LauncherDied" after the caller's result."""
    code = function(
        tmp_path, "slow", "import time\ntime.sleep(3)\n\ndef handler(e, c):\n    return 1\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(_SLOW_TEMPLATE),
            str(code.code_dir),
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "Sandbox.Timedout\n"), done.stderr
    assert done.stderr == ""


@pytest.mark.timeout(120)
def test_a_template_whose_init_exits_falls_back_without_waiting_out_init(tmp_path: Path) -> None:
    """The server kept its own copy of the template's socket open while it waited, so a
    template that died in Init (``os._exit``, a segfault) was noticed only at
    ``init_timeout_s``: here 600 s, past this test's own timeout. Now its exit is seen at once
    and the function falls back to forks, which give what normal mode gives."""
    source = "import os\nos._exit(3)\n\ndef handler(e, c):\n    return 1\n"
    outcomes = []
    for snapshot in (False, True):
        cfg = function(tmp_path / str(snapshot), "dies", source, snapshot=snapshot)
        server = ServerConfig(data_dir=tmp_path / f"d{snapshot}", run_as="root", init_timeout_s=600)
        with Runtime([cfg], server=server) as rt:
            outcomes.append(rt.invoke("dies").json()["errorType"])
    assert outcomes == ["Runtime.ExitError", "Runtime.ExitError"]
