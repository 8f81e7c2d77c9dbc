"""Environment cgroups belong to one server and do not outlive it, even when it dies.

A cgroup left behind holds kernel memory until someone removes it (on the machine these tests
were written on, 47,000 of them held 9.6 GB), and nobody but keepwarm knows it is garbage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from keepwarm import Runtime, ServerConfig
from keepwarm.env.cgroup import CgroupManager, sweep_stale
from keepwarm.env.owner import server_tag
from keepwarm.env.spares import SPARES
from tests.helpers import function, wait_for

COUNTER = """
calls = 0

def handler(event, context):
    global calls
    calls += 1
    return calls
"""

_probe = CgroupManager.detect(server_tag())
needs_cgroups = pytest.mark.skipif(_probe is None, reason="no writable cgroup memory controller")

# A server that dies without cleaning up: a warm environment, then SIGKILL for the fork server
# (which would otherwise remove the cgroups itself) and the server.
_DOOMED = """
import json, os, signal, sys
from pathlib import Path
from keepwarm import Runtime, ServerConfig
from keepwarm.config import FunctionConfig
fn = FunctionConfig(name="count", handler="app.handler", code_dir=Path(sys.argv[1]))
rt = Runtime([fn], server=ServerConfig(data_dir=Path(sys.argv[2]))).start()
rt.invoke("count")
cgroups = rt._async.host.cgroups
print(json.dumps([str(p) for p in (cgroups.memory_base, cgroups.pids_base) if p]), flush=True)
os.kill(rt._async.host.launcher._proc.pid, signal.SIGKILL)
os.kill(os.getpid(), signal.SIGKILL)
"""


@needs_cgroups
def test_closing_one_runtime_leaves_another_in_the_same_process_alone(tmp_path: Path) -> None:
    server = ServerConfig(data_dir=tmp_path / "data")
    with Runtime([function(tmp_path, "count", COUNTER)], server=server) as kept:
        first = kept.invoke("count")
        other = Runtime([function(tmp_path, "other", COUNTER)], server=server).start()
        other.invoke("other")
        other.close()
        second = kept.invoke("count")
    assert (second.json(), second.env_id, second.start_kind.value) == (2, first.env_id, "warm")


@needs_cgroups
def test_a_new_server_removes_the_cgroups_a_killed_server_left(tmp_path: Path) -> None:
    code = function(tmp_path, "count", COUNTER).code_dir
    doomed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_DOOMED), str(code), str(tmp_path / "dead")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert doomed.returncode == -signal.SIGKILL, doomed.stderr
    left = [Path(p) for p in json.loads(doomed.stdout)]
    assert any(any(p.iterdir()) for p in left)  # the environment's cgroup is still there

    with Runtime(
        [function(tmp_path, "live", COUNTER)], server=ServerConfig(data_dir=tmp_path / "d")
    ):
        wait_for(lambda: not any(p.exists() for p in left), timeout=10, what="stale cgroups gone")


@needs_cgroups
def test_the_sweep_leaves_alone_servers_it_cannot_judge() -> None:
    assert _probe is not None
    parent = _probe.memory_base.parent
    namespace = os.stat("/proc/self/ns/pid").st_ino
    others = [
        parent / f"keepwarm-{os.getpid()}",  # an older version's name, its owner alive
        parent / f"keepwarm-4194303-1-{namespace + 1}-1",  # a server in another pid namespace
    ]
    gone = parent / f"keepwarm-4194303-1-{namespace}-1"  # ours, and nobody runs as that pid
    for path in [*others, gone]:
        (path / "env").mkdir(parents=True)
    try:
        sweep_stale([parent], _probe.v2)
        assert [p.exists() for p in [*others, gone]] == [True, True, False]
    finally:
        for path in others:
            (path / "env").rmdir()
            path.rmdir()


@needs_cgroups
def test_a_cold_start_takes_a_process_prepared_ahead_in_its_own_cgroup(tmp_path: Path) -> None:
    """The slow part of a cold start on cgroup v1, joining the cgroup, happens before the
    invocation (env.spares); the environment still gets its function's own memory limit."""
    fn = function(tmp_path, "count", COUNTER, memory_mb=256)
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        spares = rt._async.host.spares
        assert spares is not None
        wait_for(lambda: len(spares._ready) == SPARES, timeout=30, what="spares ready")
        ready = {name for name, _cgroup, _pid in spares._ready}
        time.sleep(0.1)  # well past the spares' start, in clock ticks
        called_at = _ticks_now()
        result = rt.invoke("count")
        [env] = rt.environments("count")
        cgroup = Path(
            rt._async.router.pools[("count", "$LATEST")].envs[env["id"]].process._cgroup.memory
        )
        started = _start_ticks(env["pid"])
        limit_file = "memory.max" if spares._cgroups.v2 else "memory.limit_in_bytes"
        limit = (cgroup / limit_file).read_text().strip()
        # and the pool is full again for the next cold start (it used to stay one short)
        wait_for(lambda: len(spares._ready) == SPARES, timeout=30, what="spares refilled")
    assert result.start_kind.value == "cold" and result.json() == 1
    assert started is not None and started < called_at  # forked before the call
    assert cgroup.name in ready
    assert limit == str(256 * 1024 * 1024)


def _ticks_now() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def _start_ticks(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except OSError:
        return None
