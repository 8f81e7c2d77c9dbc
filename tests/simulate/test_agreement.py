"""The simulator agrees with the real runtime, invocation by invocation.

Each scenario drives a real ``AsyncRuntime`` (real processes, a real handler) on a
``FakeClock`` with the same arrivals the simulator gets: the clock is advanced to each event's
time; an invocation starts at its arrival and its handler is held (it waits for a release
file) until the clock reaches its end; the reaper's ticks are ``reclaim()`` calls at the
runtime's own reaper interval (``Router.reap_interval``, which ``Router.start_reaper`` uses),
which must be the simulator's. Ties are taken in the simulator's documented order:
completions, then the tick, then arrivals; after a completion or a tick, the runtime's
background work (a provisioned environment replaced or initialised again) is waited for, as
Init takes no simulated time. Then every invocation must have the same start kind (or
throttle), the environments must pair up one to one, and as many must have been created.

Times are multiples of 1/4 s so that the fake clock lands on them exactly. Init takes no
simulated time here (the fake clock stands still while real processes start), so the model's
``init`` is 0.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keepwarm import AsyncRuntime, FakeClock, ServerConfig, Throttled
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.state import EnvState
from keepwarm.simulate import Dist, FunctionModel, Traffic, poisson, simulate
from keepwarm.template import read_template
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
    fn: dict[str, Any] = field(default_factory=dict)  # FunctionConfig's: concurrency, reuse...
    concurrency_limit: int = 1000

    def model(self) -> FunctionModel:
        return FunctionModel(
            duration=Dist.fixed(0),
            init=Dist.fixed(0),
            timeout_s=self.timeout_s,
            keep_alive_s=self.fn.get("keep_alive_s", self.keep_alive_s),
            max_lifetime_s=self.max_lifetime_s,
            concurrency_limit=self.concurrency_limit,
            reserved_concurrency=self.fn.get("reserved_concurrency"),
            provisioned_concurrency=self.fn.get("provisioned_concurrency", 0),
            max_invocations_per_env=self.fn.get("max_invocations_per_env"),
            reuse=self.fn.get("reuse", "always"),
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
    # provisioned environments retired after two calls are replaced at once, not at a reclaim
    "provisioned_retired": Scenario(
        (0, 0.5, 1, 1, 1.5, 2, 2.5, 3, 3, 3.5, 4.25, 4.5),
        (0.25, 0.25, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25),
        fn={"provisioned_concurrency": 2, "max_invocations_per_env": 2},
    ),
    # reuse never: each call retires its environment; the provisioned one comes back each time
    "provisioned_never": Scenario(
        (0, 1, 2, 2, 3, 4),
        (0.25, 0.25, 0.5, 0.5, 0.25, 0.25),
        fn={"provisioned_concurrency": 1, "reuse": "never"},
    ),
    # a provisioned environment whose call timed out runs Init again at once: still provisioned
    "provisioned_timeout": Scenario(
        (0, 2, 3, 3), (5, 0.25, 0.25, 0.25), timeout_s=1, fn={"provisioned_concurrency": 1}
    ),
    # the function's own keep-alive (1 s) sets the reaper's interval (1/4 s), not the server's
    "own_keep_alive": Scenario(
        (0, 1.25, 2.75, 3.5, 5, 5.25, 6.75),
        (0.25,) * 7,
        keep_alive_s=600.0,
        fn={"keep_alive_s": 1.0},
    ),
    "random": _random_traffic(),
}


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


async def _drive(
    s: Scenario, tmp: Path, side_dir: Path, template: Path | None = None
) -> tuple[list[tuple[str, str | None]], int]:
    """The runtime on the scenario's traffic: its function from ``s.fn``, or from ``template``."""
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

    fns = [] if template else [function(tmp, "held", HELD, timeout_s=s.timeout_s, **s.fn)]
    starts: list[tuple[str, str | None]] = [("", None)] * len(s.starts)
    tasks: dict[int, asyncio.Future[Any]] = {}
    runtime = AsyncRuntime(fns, template=template, server=server, clock=clock, listener=listener)
    async with runtime as rt:
        interval = rt.router.reap_interval()
        assert interval == s.model().reap_every_s
        for when, kind, i in _events(s, interval):
            clock.advance(when - clock.monotonic())
            if kind == TICK:
                await rt.reclaim()
            elif kind == ARRIVE:
                before = rt.router.account_inflight
                event = {"release": str(side_dir / f"r{i}")}
                tasks[i] = asyncio.ensure_future(rt.invoke("held", event))
                await _placed(tasks[i], rt, before)
            else:
                starts[i] = await _finish(
                    tasks[i], side_dir / f"r{i}", s.durations[i] >= s.timeout_s
                )
                await rt.router.settled()
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
def test_simulator_predicts_what_the_runtime_does(
    name: str, tmp_path: Path, side_dir: Path
) -> None:
    s = SCENARIOS[name]
    predicted = simulate(Traffic(s.starts, s.durations), s.model(), record=True)
    real, created = asyncio.run(_drive(s, tmp_path, side_dir))
    assert predicted.starts is not None
    assert [k for k, _ in predicted.starts] == [k for k, _ in real]
    pairs = {(p, r) for (_, p), (_, r) in zip(predicted.starts, real, strict=True) if p is not None}
    assert len({p for p, _ in pairs}) == len({r for _, r in pairs}) == len(pairs)  # one to one
    assert predicted.environments == created


TEMPLATED = Scenario(
    (0, 0.25, 0.5, 0.5, 1, 1, 2.75, 3, 3.5, 5.5, 5.75, 6),
    (0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 3, 0.25, 0.25, 0.25, 0.25),
    timeout_s=2,
    fn={
        "keep_alive_s": 1.0,
        "max_invocations_per_env": 3,
        "provisioned_concurrency": 1,
        "reserved_concurrency": 2,
    },
)


def _template(tmp: Path, s: Scenario) -> Path:
    """A SAM template defining the scenario's function: its settings as properties and
    ``Metadata.keepwarm``."""
    code = tmp / "src"
    code.mkdir()
    (code / "app.py").write_text(HELD)
    fn = s.fn
    path = tmp / "template.yaml"
    path.write_text(
        "Resources:\n  Held:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      FunctionName: held\n      Handler: app.handler\n      Runtime: python3.12\n"
        f"      CodeUri: {code}\n      Timeout: {s.timeout_s}\n"
        f"      ReservedConcurrentExecutions: {fn['reserved_concurrency']}\n"
        "      ProvisionedConcurrencyConfig:\n"
        f"        ProvisionedConcurrentExecutions: {fn['provisioned_concurrency']}\n"
        "    Metadata:\n      keepwarm:\n"
        f"        keep_alive: {fn['keep_alive_s']}\n"
        f"        max_invocations_per_env: {fn['max_invocations_per_env']}\n"
    )
    return path


@pytest.mark.timeout(300)
def test_a_template_function_means_the_same_to_both(tmp_path: Path, side_dir: Path) -> None:
    """``FunctionModel.of`` a template's function is what the runtime runs from that template
    (its settings as ``keepwarm simulate -t`` reads them)."""
    template = _template(tmp_path, TEMPLATED)
    (config,) = read_template(template).functions
    model = FunctionModel.of(config, duration=Dist.fixed(0), init=Dist.fixed(0))
    assert model == TEMPLATED.model()
    predicted = simulate(Traffic(TEMPLATED.starts, TEMPLATED.durations), model, record=True)
    real, created = asyncio.run(_drive(TEMPLATED, tmp_path, side_dir, template))
    assert predicted.starts is not None
    assert [k for k, _ in predicted.starts] == [k for k, _ in real]
    assert predicted.environments == created
    kinds = {k for k, _ in real}
    assert kinds == {"cold", "warm", "provisioned", "throttled"} and predicted.timeouts == 1


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
    retired = seen["provisioned_retired"]
    assert retired.cold == 0 and retired.provisioned == 12 and retired.environments == 7
    assert seen["provisioned_never"].provisioned == 5 and seen["provisioned_never"].cold == 1
    timed_out = seen["provisioned_timeout"]
    assert timed_out.timeouts == 1 and timed_out.cold == 1 and timed_out.provisioned == 3
    assert timed_out.environments == 2  # the one that timed out is initialised again, not replaced
    assert seen["own_keep_alive"].cold == 5 and seen["own_keep_alive"].warm == 2
    random = seen["random"]
    assert random.cold >= 5 and random.warm >= 5 and sum(random.throttled.values()) >= 1
