"""Cost of dynamic leak detection (``check_leaks``) on warm invocations.

Two handlers, each run with leak checking off and on, in one ``Runtime`` (so the same fork
server and the same machine noise): a small one (two short globals) and one whose module holds a
10,000-entry dict built at Init (about 40,000 reachable values to walk after every call). The
event carries a few candidate values, so the scan has needles to look for. Invocations of the
four functions are interleaved round by round; figures are per-call wall latency through the
blocking Python API (what a test sees), median and p90 over all rounds.

Run: ``.venv/bin/python -m bench.leaks_bench`` (writes bench/results/leaks.json, prints a table).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from keepwarm import FunctionConfig, Runtime, ServerConfig

RESULTS = Path(__file__).resolve().parent / "results" / "leaks.json"
ROUNDS = int(os.environ.get("LEAKS_BENCH_ROUNDS", "1500"))
EVENT = {"user": "alice-12345", "order": {"id": "order-000042", "amount": 1234567}, "n": 1}
HANDLERS = {
    "small": "NAME = 'service'\nCOUNT = 0\n"
    "def handler(event, context):\n"
    "    global COUNT\n    COUNT += 1\n    return {'ok': event['n']}\n",
    "dict10k": "DATA = {f'key-{i:05d}': {'name': f'value-{i:05d}', 'n': i}\n"
    "        for i in range(10_000)}\n"
    "def handler(event, context):\n    return {'ok': len(DATA)}\n",
}


def _configs(root: Path) -> list[FunctionConfig]:
    configs = []
    for name, source in HANDLERS.items():
        code = root / name
        code.mkdir()
        (code / "app.py").write_text(source)
        for leaks in (False, True):
            fn = f"{name}-{'on' if leaks else 'off'}"
            configs.append(FunctionConfig(fn, "app.handler", code, check_leaks=leaks))
    return configs


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered) * 1e6, 1),
        "p90_us": round(ordered[int(len(ordered) * 0.9)] * 1e6, 1),
    }


def measure(rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        configs = _configs(root)
        names = [c.name for c in configs]
        times: dict[str, list[float]] = {n: [] for n in names}
        server = ServerConfig(data_dir=root / "data")
        with Runtime(configs, server=server) as rt:
            for name in names:
                for _ in range(20):  # cold start, then warm up
                    assert rt.invoke(name, EVENT).ok
            for _ in range(rounds):
                for name in names:
                    start = time.perf_counter()
                    rt.invoke(name, EVENT)
                    times[name].append(time.perf_counter() - start)
    return {name: _summary(samples) for name, samples in times.items()}


def main() -> None:
    figures = measure()
    for handler in HANDLERS:
        off, on = figures[f"{handler}-off"], figures[f"{handler}-on"]
        on["overhead_median_us"] = round(on["median_us"] - off["median_us"], 1)
        on["ratio_median"] = round(on["median_us"] / off["median_us"], 2)
    doc = {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "method": {"rounds": ROUNDS, "event": EVENT},
        "results": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    sys.stdout.write(f"{'function':<14}{'median µs':>11}{'p90 µs':>10}{'overhead':>11}\n")
    for name, row in figures.items():
        extra = f"{row['overhead_median_us']:>+10.1f}" if "overhead_median_us" in row else ""
        sys.stdout.write(f"{name:<14}{row['median_us']:>11.1f}{row['p90_us']:>10.1f}{extra}\n")


if __name__ == "__main__":
    main()
