"""ORC hit latency, as ratios to floors measured in the same run.

L1: ``Cache.get`` and an ``@orc.cached`` call against ``functools.lru_cache`` and
``cachetools.TTLCache`` (no lock, so a floor, not a peer). L2: a shared-tier hit (L1 disabled
with ``max_items=0``) against a raw redis-py GET of the same bytes, on a private redis-server.

Each sample times a batch of calls with ``perf_counter_ns`` and divides, so timer overhead stays
out of sub-microsecond figures; candidates are interleaved batch by batch; median and p99 are
over samples (so p99 is of batch means, not of single calls).

Run: ``.venv/bin/python -m bench.orc_bench`` (writes bench/results/orc.json, prints a table).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cachetools
import redis

from keepwarm import orc

RESULTS = Path(__file__).resolve().parent / "results" / "orc.json"
L1_BATCH, L1_SAMPLES = 1_000, 2_000
L2_BATCH, L2_SAMPLES = 10, 1_000


def _sample(
    runs: dict[str, Callable[[], object]], batch: int, samples: int
) -> dict[str, dict[str, float]]:
    """Per-call nanoseconds per batch, candidates interleaved batch by batch.

    Interleaving puts a candidate and its floor under the same machine noise, which matters on
    a shared box far more than the number of samples.
    """
    clock = time.perf_counter_ns
    loop = range(batch)
    figures: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(samples + 1):
        for name, call in runs.items():
            start = clock()
            for _ in loop:
                call()
            if round_:  # round 0 warms up
                figures[name].append((clock() - start) / batch)
    return {name: _summary(ns) for name, ns in figures.items()}


def _summary(ns: list[float]) -> dict[str, float]:
    ordered = sorted(ns)
    return {
        "median_ns": statistics.median(ordered),
        "p99_ns": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def bench_l1() -> dict[str, dict[str, float]]:
    key, value = "user:42", {"id": 42, "name": "Ann"}
    cache = orc.Cache(ttl=300, name="bench-l1")
    cache.set(key, value)
    ttl_cache: cachetools.TTLCache[str, object] = cachetools.TTLCache(maxsize=1024, ttl=300)
    ttl_cache[key] = value

    @functools.lru_cache(maxsize=1024)
    def lru(k: str) -> object:
        return value

    @orc.cached(ttl=300)
    def decorated(k: str) -> object:
        return value

    lru(key), decorated(key)
    runs = {
        "lru_cache": lambda: lru(key),
        "TTLCache[key]": lambda: ttl_cache[key],
        "orc Cache.get": lambda: cache.get(key),
        "orc @cached": lambda: decorated(key),
    }
    return _sample(runs, L1_BATCH, L1_SAMPLES)


@contextmanager
def _redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found; install it (scripts/install does)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", workdir]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client = redis.Redis(host="127.0.0.1", port=port)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.kill()
            proc.wait()


def bench_l2() -> dict[str, dict[str, float]]:
    key, value = "user:42", {"id": 42, "name": "Ann"}
    with _redis_server() as url:
        writer = orc.Cache(name="bench-l2", ttl=300, shared=url)
        writer.set(key, value)
        l2_only = orc.Cache(name="bench-l2", ttl=300, shared=url, max_items=0)
        assert l2_only.get(key) == value and l2_only.stats()["shared_hits"] == 1
        raw = redis.Redis.from_url(url)
        rkey = f"orc:bench-l2:s:{key}"
        assert raw.get(rkey) is not None
        runs = {
            "raw redis GET": lambda: raw.get(rkey),
            "orc L2 hit": lambda: l2_only.get(key),
        }
        out = _sample(runs, L2_BATCH, L2_SAMPLES)
        assert l2_only.stats()["shared_errors"] == 0
        raw.close()
    return out


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "redis_server": subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        ).stdout.split(" ")[2],
    }


def _ratios(rows: dict[str, dict[str, float]], floor: str) -> dict[str, dict[str, float]]:
    base = rows[floor]
    return {
        name: {**row, **{f"{k}_x_{floor}": row[k] / base[k] for k in ("median_ns", "p99_ns")}}
        for name, row in rows.items()
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| operation | median | p99 | median ÷ floor | p99 ÷ floor | floor |",
        "|---|---|---|---|---|---|",
    ]
    for group, floor in (("l1", "TTLCache[key]"), ("l1", "lru_cache"), ("l2", "raw redis GET")):
        for name, row in result[group].items():
            if name in ("TTLCache[key]", "lru_cache", "raw redis GET") and name != floor:
                continue
            med, p99 = row[f"median_ns_x_{floor}"], row[f"p99_ns_x_{floor}"]
            lines.append(
                f"| {name} | {_fmt(row['median_ns'])} | {_fmt(row['p99_ns'])} "
                f"| {med:.2f}x | {p99:.2f}x | {floor} |"
            )
    return "\n".join(lines)


def _fmt(ns: float) -> str:
    return f"{ns:.0f} ns" if ns < 10_000 else f"{ns / 1000:.1f} µs"


def main() -> None:
    l1, l2 = bench_l1(), bench_l2()
    l1_ratios = _ratios(l1, "TTLCache[key]")
    for name, row in _ratios(l1, "lru_cache").items():
        l1_ratios[name].update(row)
    result = {
        "machine": machine(),
        "method": {"l1_batch": L1_BATCH, "l1_samples": L1_SAMPLES},
        "l1": l1_ratios,
        "l2": _ratios(l2, "raw redis GET"),
    }
    result["method"].update({"l2_batch": L2_BATCH, "l2_samples": L2_SAMPLES})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nmachine: {result['machine']}; written to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
