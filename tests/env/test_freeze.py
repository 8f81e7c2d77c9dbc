"""Between invocations an environment is frozen, as on Lambda: what a handler leaves running
(a thread, a child process) makes no progress while the environment is idle."""

from __future__ import annotations

import time
from pathlib import Path

from keepwarm import Runtime, ServerConfig
from tests.helpers import function

BACKGROUND = """
import subprocess, threading, time

ticks = []
child = None

def tick():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.02)

def handler(event, context):
    global child
    if child is None:
        threading.Thread(target=tick, daemon=True).start()
        child = subprocess.Popen(
            ["sh", "-c", "while true; do echo x >> /tmp/child-ticks; sleep 0.02; done"]
        )
    time.sleep(0.1)
    with open("/tmp/child-ticks") as fh:
        return {"thread": len(ticks), "child": len(fh.readlines())}
"""


def test_threads_and_children_make_no_progress_while_idle(tmp_path: Path) -> None:
    fn = function(tmp_path, "bg", BACKGROUND, timeout_s=10)
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        first = rt.invoke("bg").json()
        time.sleep(1.0)  # idle: 50 ticks of each, were the environment running
        second = rt.invoke("bg").json()
    # Each call runs ~0.1 s (5 ticks); the freeze comes 10 ms after the answer.
    assert second["thread"] - first["thread"] < 15, (first, second)
    assert second["child"] - first["child"] < 15, (first, second)
    assert second["thread"] > first["thread"]  # thawed: it runs again during the call
