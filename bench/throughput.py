"""Throughput at concurrency 4, every server alive at once and measured in interleaved rounds.

Why not one 3 s run per server, each started in turn: on a 2-vCPU VM the machine's speed drifts
by 10-15 % over a minute, so figures taken a minute apart compare badly (one run put keepwarm
with spin off 8 % above keepwarm with spin on, for a setting that cannot matter at c=4).
Interleaving puts every server through the same stretch of time; each share of the echo is
computed per round and the median reported.
"""

from __future__ import annotations

import statistics
from contextlib import ExitStack
from typing import Any

from bench import http_floor, serve_bench

TARGETS = ("echo", "forwarder", "serve", "serve_nospin")


def _servers(stack: ExitStack) -> dict[str, int]:
    return {
        "echo": stack.enter_context(http_floor.echo_server()),
        "forwarder": stack.enter_context(http_floor.forwarder_server()),
        "serve": stack.enter_context(serve_bench.keepwarm_server()),
        "serve_nospin": stack.enter_context(serve_bench.keepwarm_server(spin_us=0)),
    }


def run(rounds: int = 5, seconds: float = 2.0) -> dict[str, Any]:
    with ExitStack() as stack:
        ports = _servers(stack)
        for port in ports.values():  # cold starts and warm-up off the clock
            http_floor.http_latency(port, 100)
            http_floor.throughput(port, seconds=0.5)
        samples: dict[str, list[float]] = {name: [] for name in TARGETS}
        for _ in range(rounds):
            for name in TARGETS:
                samples[name].append(http_floor.throughput(ports[name], seconds=seconds))
    return summarise(samples, rounds, seconds)


def summarise(samples: dict[str, list[float]], rounds: int, seconds: float) -> dict[str, Any]:
    echo = samples["echo"]
    out: dict[str, Any] = {"rounds": rounds, "seconds": seconds, "samples": samples}
    for name in TARGETS:
        out[f"{name}_rps"] = statistics.median(samples[name])
        shares = [rps / e for rps, e in zip(samples[name], echo, strict=True)]
        out[f"{name}_share"] = statistics.median(shares)
    return out
