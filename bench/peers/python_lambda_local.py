"""Peer: python-lambda-local, a fresh Python process per call (no warm reuse), same handler.

Installed by ``make bench-peers`` into bench/.peers/venv; skipped with a note when absent.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from bench.common import NOOP, PEERS, scratch, summary

BIN = PEERS / "venv" / "bin" / "python-lambda-local"


def run(n: int) -> dict[str, Any]:
    if not BIN.exists():
        return {"skipped": "not installed (run `make bench-peers`)"}
    work = scratch("kwbench-pll-")
    (work / "app.py").write_text(NOOP)
    (work / "event.json").write_text("{}")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(
            [str(BIN), "-f", "handler", "-t", "3", "app.py", "event.json"],
            cwd=work,
            check=True,
            capture_output=True,
        )
        out.append((time.perf_counter() - t) * 1000)
    return {"pll_call": summary(out), "samples": out}
