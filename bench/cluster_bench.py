"""What running environments on a Ray cluster costs: the same no-op function through the Python
API with local environments (the floor) and with ``backend="ray"`` (a Ray instance of its own on
this machine, one node), interleaved round by round in one run.

Ray binds every interface, so the measuring part runs in a private network namespace
(``scripts/in_netns.py``, needs root); ``python -m bench.cluster_bench`` re-runs itself there.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import NOOP, code_dir, machine, scratch, summary, timed_invokes
from keepwarm import FunctionConfig, Runtime, ServerConfig

RESULTS = Path(__file__).resolve().parent / "results" / "cluster.json"
ROOT = Path(__file__).resolve().parents[1]
ROUNDS, PER_ROUND, COLD = 5, 300, 30


def measure() -> dict[str, Any]:
    code = code_dir("noop", NOOP)
    warm = FunctionConfig(name="noop", handler="app.handler", code_dir=code)
    cold = warm.with_changes(name="cold", max_invocations_per_env=1)
    local = ServerConfig(data_dir=scratch("kwbench-local-"))
    ray = ServerConfig(data_dir=scratch("kwbench-ray-"), backend="ray")
    kinds = ("local", "ray", "ray_call", "local_cold", "ray_cold")
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    with Runtime([warm, cold], server=local) as here, Runtime([warm, cold], server=ray) as there:
        echo = _echo_actor()
        for rt in (here, there):
            timed_invokes(rt, "noop", 200)
        asyncio.run(_ray_calls(echo, 200))
        for _ in range(ROUNDS):
            samples["local"] += timed_invokes(here, "noop", PER_ROUND)
            samples["ray"] += timed_invokes(there, "noop", PER_ROUND)
            samples["ray_call"] += asyncio.run(_ray_calls(echo, PER_ROUND))
            samples["local_cold"] += timed_invokes(here, "cold", COLD // ROUNDS)
            samples["ray_cold"] += timed_invokes(there, "cold", COLD // ROUNDS)
    return {"machine": machine(), **{k: summary(v) for k, v in samples.items()}}


def _echo_actor() -> Any:
    """The floor of one remote call: an async actor answering at once, awaited from asyncio
    as keepwarm awaits its agents."""
    import ray

    class Echo:
        async def echo(self, data: bytes) -> bytes:
            return data

    return ray.remote(Echo).options(num_cpus=0).remote()


async def _ray_calls(actor: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await actor.echo.remote(b"{}")
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def table(r: dict[str, Any]) -> str:
    rows = [
        ("warm invoke, local environments (floor)", r["local"], r["local"]),
        ('warm invoke, `backend="ray"`', r["ray"], r["local"]),
        ("one Ray actor call, awaited (floor)", r["ray_call"], r["ray_call"]),
        ('warm invoke, `backend="ray"`', r["ray"], r["ray_call"]),
        ("cold start, local environments (floor)", r["local_cold"], r["local_cold"]),
        ('cold start, `backend="ray"`', r["ray_cold"], r["local_cold"]),
    ]
    lines = ["| what | median | p99 | median ÷ floor | p99 ÷ floor |", "|---|---|---|---|---|"]
    for name, s, floor in rows:
        lines.append(
            f"| {name} | {s['median_ms']:.2f} ms | {s['p99_ms']:.2f} ms | "
            f"{s['median_ms'] / floor['median_ms']:.2f}x | {s['p99_ms'] / floor['p99_ms']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    if "--inner" in sys.argv:
        if os.environ.get("KEEPWARM_PRIVATE_NETWORK") != "1":  # set by scripts/in_netns.py
            raise SystemExit("cluster_bench: no private network namespace (needs root)")
        result = measure()
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        return
    inner = [sys.executable, "-m", "bench.cluster_bench", "--inner"]
    netns = [sys.executable, str(ROOT / "scripts" / "in_netns.py")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*netns, *inner], check=True, cwd=ROOT, env=env)
    print(table(json.loads(RESULTS.read_text())))


if __name__ == "__main__":
    main()
