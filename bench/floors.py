"""Floors: what no implementation on this machine can beat, measured in the same run.

- pipe RTT: two Python processes ping-ponging a small message over a socketpair (the least a
  server ↔ environment exchange costs);
- fresh interpreter: ``python -c pass`` from the venv (what the fork server avoids);
- bare ASGI echo: uvicorn + httptools answering POST with its body, called over a keep-alive
  ``http.client`` connection (and through boto3), plus its throughput at concurrency 4.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import summary

_ECHO_CHILD = """
import os, socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
while True:
    d = s.recv(65536)
    if not d:
        os._exit(0)
    s.sendall(d)
"""


@contextmanager
def pipe_peer(pin: str | None = None) -> Iterator[socket.socket]:
    """An echo process at the other end of a socketpair.

    ``pin="cross"`` puts the two ends on different CPUs for the duration: every wake-up then
    crosses CPUs, as the server's and an environment's do when both are busy. ``pin="same"``
    puts both on one CPU: no cross-CPU wake-up at all, the least a round-trip can cost here.
    Unpinned, the scheduler picks either from run to run, so that figure is bimodal.
    """
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-c", _ECHO_CHILD, str(theirs.fileno())], pass_fds=[theirs.fileno()]
    )
    theirs.close()
    mine = os.sched_getaffinity(0)
    if pin is not None and len(mine) >= 2:
        first, second, *_ = sorted(mine)
        os.sched_setaffinity(0, {first})
        os.sched_setaffinity(proc.pid, {second if pin == "cross" else first})
    try:
        yield ours
    finally:
        os.sched_setaffinity(0, mine)
        ours.close()
        proc.wait(timeout=10)


def pipe_rtt(sock: socket.socket, n: int) -> list[float]:
    msg = b"x" * 64
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t = clock()
        sock.sendall(msg)
        sock.recv(65536)
        out.append((clock() - t) / 1e6)
    return out


def fresh_interpreter(n: int) -> dict[str, float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        out.append((time.perf_counter() - t) * 1000)
    return summary(out)
