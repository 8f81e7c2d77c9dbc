"""The simulator agrees with the real runtime, invocation by invocation.

Each scenario drives a real ``AsyncRuntime`` (real processes, a real handler) on a
``FakeClock`` with the same arrivals the simulator gets: the clock is advanced to each event's
time; an invocation starts at its arrival and its handler is held (it waits for a release
file) until the clock reaches its end; the reaper's ticks are ``reclaim()`` calls at the
reaper's own interval, as ``Router.start_reaper`` makes them. Ties are taken in the
simulator's documented order: completions, then the tick, then arrivals. Then every
invocation must have the same start kind (or throttle), the environments must pair up one to
one, and as many must have been created.

Times are multiples of 1/4 s so that the fake clock lands on them exactly. Init takes no
simulated time here (the fake clock stands still while real processes start), so the model's
``init`` is 0.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keepwarm import AsyncRuntime, FakeClock, ServerConfig, Throttled
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.state import EnvState
from keepwarm.simulate import Dist, FunctionModel, Traffic, poisson, simulate
from tests.helpers import function

HELD = """
import os, time

def handler(event, context):
    deadline = time.time() + 120
    while not os.path.exists(event["release"]) and time.time() < deadline:
        time.sleep(0.002)
    return os.getpid()
"""
DONE, TICK, ARRIVE = 0, 1, 2  # the simulator's order at equal times


@dataclass(frozen=True)
class Scenario:
    starts: tuple[float, ...]
    durations: tuple[float, ...]
    keep_alive_s: float = 4.0
    max_lifetime_s: float = 7200.0
    timeout_s: int = 300
    fn: dict[str, Any] = field(default_factory=dict)  # reserved/provisioned/max invocations
    concurrency_limit: int = 1000

    def model(self) -> FunctionModel:
        return FunctionModel(
            duration=Dist.fixed(0),
            init=Dist.fixed(0),
            timeout_s=self.timeout_s,
            keep_alive_s=self.keep_alive_s,
            max_lifetime_s=self.max_lifetime_s,
            concurrency_limit=self.concurrency_limit,
            reserved_concurrency=self.fn.get("reserved_concurrency"),
            provisioned_concurrency=self.fn.get("provisioned_concurrency", 0),
            max_invocations_per_env=self.fn.get("max_invocations_per_env"),
        )


def _random_traffic() -> Scenario:
    """Poisson arrivals (the simulator's own generator) on the 1/4 s grid, mixed durations."""
    starts = [round(t * 4) / 4 for t in poisson(0.8, span_s=40, seed=7).starts]
    durations = [(0.25, 0.5, 1.0, 2.5, 0.25)[i % 5] for i in range(len(starts))]
    return Scenario(
        tuple(starts), tuple(durations), keep_alive_s=2.0, fn={"reserved_concurrency": 2}
    )


SCENARIOS = {
    # one at a time; gaps below, at and above the keep-alive (4 s, the reaper ticking every 1 s)
    "sequential": Scenario(
        (0, 1, 2.5, 7, 8, 12.25, 16.5, 21, 21.25),
        (0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.5, 0.25),
    ),
    # bursts overlap: three environments, then MRU reuse leaves the least used one to expire
    "overlapping": Scenario(
        (0, 0, 0.5, 3, 3, 3.25, 5, 5.25, 9.5, 9.5, 12, 12, 12),
        (2, 2, 2, 0.5, 0.5, 0.5, 1, 0.25, 0.25, 2, 1, 1, 1),
    ),
    # an environment in steady use is still reclaimed once older than its max lifetime
    "max_lifetime": Scenario(
        tuple(float(t) for t in range(12)), (0.25,) * 12, keep_alive_s=10.0, max_lifetime_s=6.0
    ),
    # reserved concurrency 2: the third and fourth overlapping calls are throttled
    "reserved": Scenario(
        (0, 0.25, 0.5, 0.75, 2.25, 2.5, 2.5),
        (2, 2, 1, 1, 0.25, 0.25, 0.25),
        fn={"reserved_concurrency": 2},
    ),
    # provisioned environments first, on-demand overflow, provisioned replaced at max lifetime
    "provisioned": Scenario(
        (0, 0.25, 0.25, 3, 6, 9, 9, 12.5),
        (0.5, 1, 1, 0.25, 0.25, 1, 1, 0.25),
        max_lifetime_s=8.0,
        fn={"provisioned_concurrency": 1},
    ),
    # environments retired after two invocations
    "max_invocations": Scenario(
        (0, 1, 2, 3, 3, 4, 5), (0.25,) * 7, fn={"max_invocations_per_env": 2}
    ),
    # a timeout resets the environment: its next call re-runs Init (a cold start, same env)
    "timeout": Scenario((0, 1, 3, 4), (0.25, 5, 0.25, 0.25), timeout_s=1),
    "random": _random_traffic(),
}


@pytest.fixture
def gate() -> Iterator[Path]:
    """Release files every environment can see (outside private /tmp and the data dir)."""
    path = Path("/var/tmp") / f"keepwarm-sim-{uuid.uuid4().hex}"
    path.mkdir()
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _events(s: Scenario, interval: float) -> list[tuple[float, int, int]]:
    """(time, kind, invocation) in the simulator's order; ticks up to the last end."""
    events = [(t, ARRIVE, i) for i, t in enumerate(s.starts)]
    events += [
        (t + min(d, s.timeout_s), DONE, i)
        for i, (t, d) in enumerate(zip(s.starts, s.durations, strict=True))
    ]
    last = max(t for t, _, _ in events)
    events += [(k * interval, TICK, -1) for k in range(1, int(last / interval) + 1)]
    return sorted(events)


async def _placed(task: asyncio.Future[Any], rt: AsyncRuntime, before: int) -> None:
    """Until the invocation took an environment (or was throttled): one loop turn or a few."""
    for _ in range(10_000):
        if task.done() or rt.router.account_inflight > before:
            return
        await asyncio.sleep(0)
    raise AssertionError("the invocation was never placed")


async def _drive(s: Scenario, tmp: Path, gate: Path) -> tuple[list[tuple[str, str | None]], int]:
    clock = FakeClock(start=0.0)
    server = ServerConfig(
        data_dir=tmp / "data",
        keep_alive_s=s.keep_alive_s,
        max_lifetime_s=s.max_lifetime_s,
        concurrency_limit=s.concurrency_limit,
    )
    created: set[str] = set()

    def listener(env: LocalEnvironment, old: EnvState, new: EnvState) -> None:
        created.add(env.id)

    fn = function(tmp, "held", HELD, timeout_s=s.timeout_s, **s.fn)
    starts: list[tuple[str, str | None]] = [("", None)] * len(s.starts)
    tasks: dict[int, asyncio.Future[Any]] = {}
    async with AsyncRuntime([fn], server=server, clock=clock, listener=listener) as rt:
        for when, kind, i in _events(s, s.model().reap_every_s):
            clock.advance(when - clock.monotonic())
            if kind == TICK:
                await rt.reclaim()
            elif kind == ARRIVE:
                before = rt.router.account_inflight
                event = {"release": str(gate / f"r{i}")}
                tasks[i] = asyncio.ensure_future(rt.invoke("held", event))
                await _placed(tasks[i], rt, before)
            else:
                starts[i] = await _finish(tasks[i], gate / f"r{i}", s.durations[i] >= s.timeout_s)
    return starts, len(created)


async def _finish(
    task: asyncio.Future[Any], release: Path, times_out: bool
) -> tuple[str, str | None]:
    if not times_out:
        release.touch()
    try:
        result = await asyncio.wait_for(task, 120)
    except Throttled:
        return "throttled", None
    assert (result.function_error is not None) == times_out, result.payload
    return result.start_kind.value, result.env_id


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulator_predicts_what_the_runtime_does(name: str, tmp_path: Path, gate: Path) -> None:
    s = SCENARIOS[name]
    predicted = simulate(Traffic(s.starts, s.durations), s.model(), record=True)
    real, created = asyncio.run(_drive(s, tmp_path, gate))
    assert predicted.starts is not None
    assert [k for k, _ in predicted.starts] == [k for k, _ in real]
    pairs = {(p, r) for (_, p), (_, r) in zip(predicted.starts, real, strict=True) if p is not None}
    assert len({p for p, _ in pairs}) == len({r for _, r in pairs}) == len(pairs)  # one to one
    assert predicted.environments == created


def test_the_scenarios_exercise_what_they_claim() -> None:
    """Guard against scenarios that pass vacuously (the simulator's view of them)."""
    seen = {
        name: simulate(Traffic(s.starts, s.durations), s.model(), record=True)
        for name, s in SCENARIOS.items()
    }
    assert seen["sequential"].cold >= 3 and seen["sequential"].warm >= 4
    assert seen["overlapping"].peak_environments == 3 and seen["overlapping"].cold >= 4
    assert seen["max_lifetime"].cold == 2
    assert sum(seen["reserved"].throttled.values()) == 2
    assert seen["provisioned"].provisioned >= 3 and seen["provisioned"].cold >= 2
    assert seen["max_invocations"].environments >= 4
    assert seen["timeout"].timeouts == 1
    random = seen["random"]
    assert random.cold >= 5 and random.warm >= 5 and sum(random.throttled.values()) >= 1
