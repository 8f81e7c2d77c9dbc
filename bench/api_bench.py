"""Warm and cold invocations through the Python API, against the floors of the same run.

Warm: a no-op handler through ``Runtime.invoke`` (blocking facade; it runs the loop on the
calling thread) with and without spin-waiting, interleaved round by round with the pipe
round-trip floor so all see the same machine noise, then ``AsyncRuntime.invoke`` (on the
caller's own loop). Cold: a new environment per call
(``max_invocations_per_env=1``) for launch_mode fork and fresh, and snapshot mode, with a no-op
handler and one that imports boto3 (where snapshot mode pays off).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from bench import floors
from bench.common import BOTO3, NOOP, code_dir, scratch, summary, timed_invokes
from keepwarm import FunctionConfig, Runtime, ServerConfig
from keepwarm.api import AsyncRuntime


def _server(
    mode: str = "fork", run_as: str = "sandbox", spin_us: int | None = None
) -> ServerConfig:
    data = scratch("kwbench-data-")
    config = ServerConfig(data_dir=data, launch_mode=mode, run_as=run_as)
    return config if spin_us is None else dataclasses.replace(config, spin_us=spin_us)


def warm(rounds: int, per_round: int) -> dict[str, Any]:
    code = code_dir("noop", NOOP)
    fn = FunctionConfig(name="noop", handler="app.handler", code_dir=code)
    api: list[float] = []
    nospin: list[float] = []
    pipe: list[float] = []
    with (
        floors.pipe_peer() as peer,
        Runtime([fn], server=_server()) as rt,
        Runtime([fn], server=_server(spin_us=0)) as plain,
    ):
        for _ in range(200):
            rt.invoke("noop")
            plain.invoke("noop")
        floors.pipe_rtt(peer, 200)
        for _ in range(rounds):
            pipe += floors.pipe_rtt(peer, per_round)
            api += timed_invokes(rt, "noop", per_round)
            nospin += timed_invokes(plain, "noop", per_round)
        async_ms = asyncio.run(_warm_async(fn, rounds * per_round))
        pipe_after = floors.pipe_rtt(peer, rounds * per_round)
    pinned = {}
    for pin in ("cross", "same"):
        with floors.pipe_peer(pin) as peer:
            floors.pipe_rtt(peer, 200)
            pinned[pin] = floors.pipe_rtt(peer, rounds * per_round)
    return {
        "pipe_rtt": summary(pipe),
        "pipe_rtt_after": summary(pipe_after),
        "pipe_rtt_cross_cpu": summary(pinned["cross"]),
        "pipe_rtt_same_cpu": summary(pinned["same"]),
        "api_warm": summary(api),
        "api_warm_nospin": summary(nospin),
        "async_warm": summary(async_ms),
        "samples": {"pipe_rtt": pipe, "api_warm": api, "async_warm": async_ms},
    }


async def _warm_async(fn: FunctionConfig, n: int) -> list[float]:
    out = []
    async with AsyncRuntime([fn], server=_server()) as rt:
        for _ in range(200):
            await rt.invoke("noop")
        for _ in range(n):
            t = time.perf_counter_ns()
            await rt.invoke("noop")
            out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def _cold_series(
    source: str, mode: str, snapshot: bool, n: int, run_as: str = "sandbox"
) -> list[float]:
    code = code_dir("cold", source)
    fn = FunctionConfig(
        name="cold",
        handler="app.handler",
        code_dir=code,
        snapshot=snapshot,
        max_invocations_per_env=1,
    )
    out = []
    with Runtime([fn], server=_server(mode, run_as)) as rt:
        rt.invoke("cold")  # the fork server's (and a snapshot's template's) own start-up
        for _ in range(n):
            time.sleep(0.02)  # let the previous environment's shutdown finish off the clock
            t = time.perf_counter()
            result = rt.invoke("cold")
            out.append((time.perf_counter() - t) * 1000)
            assert result.start_kind.value == "cold" and result.function_error is None
    return out


def cold(n_fork: int, n_fresh: int) -> dict[str, Any]:
    root = "root"  # snapshot templates need functions to keep the server's user (for now)
    series = {
        "cold_fork_noop": _cold_series(NOOP, "fork", False, n_fork),
        "cold_fresh_noop": _cold_series(NOOP, "fresh", False, n_fresh),
        "cold_fork_noop_root": _cold_series(NOOP, "fork", False, n_fork, root),
        "cold_snapshot_noop_root": _cold_series(NOOP, "fork", True, n_fork, root),
        "cold_fresh_noop_root": _cold_series(NOOP, "fresh", False, n_fresh, root),
        "cold_fork_boto3_root": _cold_series(BOTO3, "fork", False, n_fresh, root),
        "cold_snapshot_boto3_root": _cold_series(BOTO3, "fork", True, n_fork, root),
    }
    out: dict[str, Any] = {name: summary(ms) for name, ms in series.items()}
    out["python_c_pass"] = floors.fresh_interpreter(n_fresh)
    out["samples"] = series
    return out
