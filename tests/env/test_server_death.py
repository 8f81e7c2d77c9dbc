"""When the server dies without closing (SIGKILL), nothing it ran may live on: not its
environments, and not the processes their handlers started and detached."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from keepwarm import Runtime, ServerConfig
from tests.helpers import alive, function, wait_for

COUNTER = "def handler(event, context):\n    return 1\n"

DETACHING = """
import subprocess

def handler(event, context):
    plain = subprocess.Popen(["sleep", "300"])
    session = subprocess.Popen(["setsid", "sleep", "301"])
    orphan = subprocess.run(
        ["sh", "-c", "setsid sleep 302 >/dev/null 2>&1 & echo $!"],
        capture_output=True, text=True, check=True,
    )
    return [plain.pid, session.pid, int(orphan.stdout)]
"""

# A server that dies without cleaning up: one environment (frozen once idle), then SIGKILL.
_DOOMED = """
import json, os, signal, sys, time
from pathlib import Path
from keepwarm import Runtime, ServerConfig
from keepwarm.config import FunctionConfig
snap = sys.argv[3] == "snapshot"  # environments forked by a snapshot template, not the fork server
fn = FunctionConfig(name="detach", handler="app.handler", code_dir=Path(sys.argv[1]), snapshot=snap)
server = ServerConfig(data_dir=Path(sys.argv[2]), run_as="root" if snap else "sandbox")
rt = Runtime([fn], server=server).start()
pids = rt.invoke("detach").json()
time.sleep(0.1)  # idle long enough to be frozen
cgroups = rt._async.host.cgroups
bases = [str(p) for p in (cgroups.memory_base, cgroups.pids_base) if p] if cgroups else []
left = {"pids": pids, "env_root": str(rt._async.host.env_root), "cgroups": bases}
print(json.dumps(left), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_server(tmp_path: Path, data: Path, mode: str = "fork") -> dict[str, Any]:
    code = function(tmp_path, "detach", DETACHING).code_dir
    doomed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_DOOMED), str(code), str(data), mode],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert doomed.returncode == -signal.SIGKILL, doomed.stderr
    left: dict[str, Any] = json.loads(doomed.stdout)
    return left


@pytest.mark.parametrize("mode", ["fork", "snapshot"])
def test_what_handlers_detached_dies_with_a_killed_server(tmp_path: Path, mode: str) -> None:
    left = _killed_server(tmp_path, tmp_path / "data", mode)
    assert len(left["pids"]) == 3
    wait_for(lambda: not any(map(alive, left["pids"])), timeout=15, what="detached children gone")
    # and its cgroups, with nobody starting another server to sweep them
    cgroups = [Path(p) for p in left["cgroups"]]
    wait_for(lambda: not any(p.exists() for p in cgroups), timeout=15, what="cgroups gone")


def test_the_next_server_removes_a_killed_servers_environment_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerConfig(data_dir=data)
    with Runtime([function(tmp_path, "live", COUNTER)], server=server) as beside:
        beside.invoke("live")
        [live_env] = beside.environments("live")
        dead_root = Path(_killed_server(tmp_path, data)["env_root"])
        assert any(dead_root.iterdir())  # its environment's /tmp is still on disk
        with Runtime([function(tmp_path, "next", COUNTER)], server=server) as after:
            after.invoke("next")
        assert not dead_root.exists()
        assert beside.invoke("live").env_id == live_env["id"]  # the live one kept its files
        own_root = beside._async.host.env_root
        assert (own_root / live_env["id"] / "tmp").is_dir()
    assert not own_root.exists()  # and a clean close removes its own
