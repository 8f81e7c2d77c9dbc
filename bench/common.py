"""Shared pieces of the benchmark suite: statistics, the machine, handler code, result files.

Why one module: every benchmark reports median and p99 the same way and as a ratio to a floor
measured in the same run, so the numbers in docs/benchmarks.md compare like with like.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PEERS = HERE / ".peers"

NOOP = "def handler(event, context):\n    return {}\n"
BOTO3 = "import boto3\n\n\ndef handler(event, context):\n    return {}\n"


def summary(ms: list[float]) -> dict[str, float]:
    """Median, p99 (nearest rank), min and count of a list of milliseconds."""
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "median_ms": statistics.median(ordered),
        "p99_ms": p99,
        "min_ms": ordered[0],
        "n": len(ordered),
    }


def timed_invokes(rt: Any, name: str, n: int) -> list[float]:
    """Milliseconds of ``n`` blocking ``Runtime.invoke`` calls, one by one."""
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        rt.invoke(name)
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def scratch(prefix: str) -> Path:
    """A fresh directory under the system temp dir, removed when the benchmark process ends."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def code_dir(name: str, source: str) -> Path:
    """A directory holding ``app.py`` with ``source`` (the same handler for every system)."""
    path = scratch(f"kwbench-{name}-")
    (path / "app.py").write_text(source)
    path.chmod(0o755)  # functions may run as an unprivileged user (ServerConfig.run_as)
    (path / "app.py").chmod(0o644)
    return path


def _first_line(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


def machine() -> dict[str, Any]:
    """What the figures were measured on (they mean nothing without it)."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _first_line(["node", "--version"]),
        "root": os.geteuid() == 0,
    }


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
