"""Scale: memory of idle warm environments, and whether many functions slow a warm call.

500 functions each get one warm environment (1,000 registered); their memory is the sum of
USS (pages no other process shares) from /proc/<pid>/smaps_rollup. Warm latency of one of them
is compared, round by round, with a runtime holding one function and one environment.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import NOOP, code_dir, scratch, summary, timed_invokes
from keepwarm import FunctionConfig, Runtime, ServerConfig


def uss_kb(pid: int) -> int:
    """Private (unshared) memory of one process, in KiB."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        return 0
    return total


def _runtime(functions: int) -> Runtime:
    code = code_dir("scale", NOOP)
    configs = [
        FunctionConfig(name=f"f{i}", handler="app.handler", code_dir=code) for i in range(functions)
    ]
    data = scratch("kwbench-scale-")
    return Runtime(configs, server=ServerConfig(data_dir=data)).start()


def run(
    functions: int = 1000, envs: int = 500, rounds: int = 5, per_round: int = 400
) -> dict[str, Any]:
    small, big = _runtime(1), _runtime(functions)
    try:
        t = time.perf_counter()
        for i in range(envs):
            big.invoke(f"f{i}")
        warmup_s = time.perf_counter() - t
        pids = [e["pid"] for i in range(envs) for e in big.environments(f"f{i}") if e["pid"]]
        uss = [uss_kb(pid) for pid in pids]
        small.invoke("f0")
        one: list[float] = []
        many: list[float] = []
        for _ in range(rounds):
            one += timed_invokes(small, "f0", per_round)
            many += timed_invokes(big, f"f{envs // 2}", per_round)
    finally:
        big.close()
        small.close()
    return {
        "functions": functions,
        "live_envs": len(pids),
        "start_all_s": warmup_s,
        "uss_total_mb": sum(uss) / 1024,
        "uss_per_env_mb": sum(uss) / 1024 / max(len(uss), 1),
        "warm_1fn": summary(one),
        "warm_many": summary(many),
    }
