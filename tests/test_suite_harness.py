"""The suite's own leak check: under pytest-xdist each worker must still see a leak of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.helpers import keepwarm_processes, wait_for

# Starts a process whose command line names the fork server, in its own session, then exits:
# the process is orphaned, as a fork server is when its server dies without stopping it.
_ORPHAN = """
import subprocess, sys
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(120)", "keepwarm.env.zygote"],
    start_new_session=True, stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
print(child.pid, flush=True)
"""


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def test_an_orphaned_fork_server_stays_in_this_workers_tree_where_the_leak_check_sees_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _ORPHAN], capture_output=True, text=True, check=True
    )
    orphan = int(out.stdout)
    try:
        wait_for(lambda: _parent_of(orphan) == os.getpid(), timeout=30, what="the reparenting")
        assert orphan in keepwarm_processes(under=os.getpid())
    finally:
        os.kill(orphan, signal.SIGKILL)
        os.waitpid(orphan, 0)  # ours to reap, as the subreaper
    assert orphan not in keepwarm_processes()
