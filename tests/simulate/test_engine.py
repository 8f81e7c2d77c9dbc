"""The simulator by tables: traffic in, start kinds and counts out (no processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keepwarm.config import FunctionConfig
from keepwarm.errors import SimulationInputError, Throttled
from keepwarm.simulate import Dist, FunctionModel, Prediction, Traffic, simulate


def run(
    starts: list[float], durations: list[float | None] | None = None, **model: Any
) -> Prediction:
    """``model`` as FunctionModel's; durations 0.25 s and Init 0 s unless given."""
    model.setdefault("duration", Dist.fixed(0.25))
    model.setdefault("init", Dist.fixed(0))
    traffic = Traffic(starts, durations, model.pop("span_s", None))
    ttls, seed = model.pop("cache_ttls", ()), model.pop("seed", 0)
    return simulate(traffic, FunctionModel(**model), cache_ttls=ttls, seed=seed, record=True)


def kinds(p: Prediction) -> str:
    """One letter per invocation: c(old), w(arm), p(rovisioned), t(hrottled)."""
    assert p.starts is not None
    return "".join(k[0] for k, _ in p.starts)


@pytest.mark.parametrize(
    ("starts", "model", "expected"),
    [
        # the reaper looks every second: idle for exactly the keep-alive is still warm until it does
        ([0, 4.25], {"keep_alive_s": 4}, "cw"),
        ([0, 5], {"keep_alive_s": 4}, "cc"),
        ([0, 4.9], {"keep_alive_s": 4}, "cw"),
        # Init takes time: a call during another's Init needs a second environment
        ([0, 0.5], {"init": Dist.fixed(1)}, "cc"),
        ([0, 0.5], {}, "cw"),
        ([0, 0.1], {}, "cc"),  # overlapping handlers
        ([0, 1, 2, 3], {"reuse": "never"}, "cccc"),
        ([0, 1, 2, 3, 4], {"max_invocations_per_env": 2}, "cwcwc"),
        ([0, 0, 0], {"reserved_concurrency": 1}, "ctt"),
        ([0, 0, 0], {"provisioned_concurrency": 2}, "ppc"),
        ([0, 1, 2], {"reserved_concurrency": 0}, "ttt"),
        # max lifetime: reclaimed at the first tick after 3 s of life, although used each second
        ([0, 1, 2, 3, 4], {"max_lifetime_s": 3}, "cwwcw"),
    ],
)
def test_start_kinds(starts: list[float], model: dict[str, Any], expected: str) -> None:
    assert kinds(run(starts, **model)) == expected


def test_throttle_reasons_are_lambdas() -> None:
    reserved = run([0, 0], reserved_concurrency=1)
    assert reserved.throttled == {Throttled.RESERVED: 1}
    account = run([0, 0], concurrency_limit=1)
    assert account.throttled == {Throttled.ACCOUNT: 1}


def test_a_timeout_resets_the_environment_and_its_cache() -> None:
    p = run([0, 1, 10, 11], [0.25, 5, 0.25, 0.25], timeout_s=3, keep_alive_s=600)
    assert kinds(p) == "cwcw"  # re-Init on the same environment counts as a cold start
    assert p.starts is not None and {e for _, e in p.starts} == {"e1"}
    assert p.timeouts == 1 and p.environments == 1
    assert (p.caches[0].hits, p.caches[0].misses) == (2, 2)


def test_provisioned_environments_are_replaced_at_max_lifetime_after_their_init() -> None:
    p = run([0, 8.5, 9.5], max_lifetime_s=8, init=Dist.fixed(1), provisioned_concurrency=1)
    # e1 reclaimed at the 8 s tick; its replacement e2 is in Init until 9 s, so 8.5 s is cold
    assert p.starts == (("provisioned", "e1"), ("cold", "e3"), ("provisioned", "e2"))


def test_a_retired_provisioned_environment_is_replaced_at_once() -> None:
    # reuse never: e1 retires at 0.25 s, e2 starts its Init (1.5 s) then, and is ready at 1.75 s
    p = run([0, 1, 2, 4], reuse="never", init=Dist.fixed(1.5), provisioned_concurrency=1)
    assert p.starts is not None and kinds(p) == "pcpp"
    assert [e for _, e in p.starts] == ["e1", "e3", "e2", "e4"]  # e3 on demand: not replaced
    assert p.environments == 5  # e5 replaced e4 at 4.25 s
    capped = run([0, 1, 2, 3], max_invocations_per_env=2, provisioned_concurrency=1)
    assert kinds(capped) == "pppp" and capped.environments == 3


def test_a_provisioned_environment_that_timed_out_runs_init_again_at_once() -> None:
    """The same environment, provisioned again once its Init ran (not a cold start at its next
    call, as an on-demand one's is); its cache is empty again."""
    p = run(
        [0, 1.5, 3.5], [5, 0.25, 0.25], timeout_s=1, init=Dist.fixed(1), provisioned_concurrency=1
    )
    # e1 times out at 1 s and is in Init until 2 s: a call at 1.5 s is cold in e2, 3.5 s finds e1
    assert p.starts == (("provisioned", "e1"), ("cold", "e2"), ("provisioned", "e1"))
    assert p.timeouts == 1 and (p.caches[0].hits, p.caches[0].misses) == (0, 3)


def test_the_model_of_a_function() -> None:
    config = FunctionConfig(
        "f",
        "app.handler",
        Path(__file__).parent,
        timeout_s=9,
        reserved_concurrency=4,
        provisioned_concurrency=1,
        keep_alive_s=30,
        reuse="never",
    )
    model = FunctionModel.of(config, timeout_s=5)
    assert (model.timeout_s, model.reserved_concurrency, model.provisioned_concurrency) == (5, 4, 1)
    assert (model.keep_alive_s, model.reuse, model.reap_every_s) == (30, "never", 1.0)
    assert (model.max_lifetime_s, model.max_invocations_per_env) == (7200, None)  # defaults


def test_a_busy_environment_past_its_lifetime_goes_at_the_first_tick_once_idle() -> None:
    # e1 (provisioned, max lifetime 8 s) is busy from 7.5 s to 9.5 s: still there at 9.75 s,
    # reclaimed at the 10 s tick and replaced at once (Init 0)
    p = run(
        [0, 7.5, 9.75, 10.25], [0.25, 2, 0.25, 0.25], max_lifetime_s=8, provisioned_concurrency=1
    )
    assert p.starts is not None
    assert [e for _, e in p.starts] == ["e1", "e1", "e1", "e2"] and kinds(p) == "pppp"


def test_cache_ttl_hits_and_misses() -> None:
    # one environment, looked up at 0 (fill), 30 (hit), 70 (70 s old: miss, refill), 100 (hit)
    p = run([0, 30, 70, 100], cache_ttls=(60,))
    assert [(c.ttl_s, c.hits, c.misses) for c in p.caches] == [(None, 3, 1), (60, 2, 2)]
    exact = run([0, 60], cache_ttls=(60,))  # an entry exactly TTL old is stale (orc's rule)
    assert (exact.caches[1].hits, exact.caches[1].misses) == (0, 2)


def test_the_cache_is_looked_up_when_the_handler_starts_after_init() -> None:
    p = run([0, 10.25], init=Dist.fixed(0.5), cache_ttls=(10,))
    assert (p.caches[1].hits, p.caches[1].misses) == (1, 1)  # filled at 0.5: 9.75 s old


def test_counts_peaks_and_spread() -> None:
    p = run([0, 0, 0, 1, 2, 3], keep_alive_s=600)
    assert (p.invocations, p.cold, p.warm, p.environments) == (6, 3, 3, 3)
    assert p.peak_environments == p.peak_concurrency == 3
    assert (p.per_environment.max, p.per_environment.p50) == (4, 1)
    assert p.warm_ratio == 0.5
    assert p.busy_seconds == 6 * 0.25


def test_environment_seconds_cover_the_span() -> None:
    p = run([0], keep_alive_s=4, span_s=10)  # idle from 0.25, reclaimed at the 5 s tick
    assert p.env_seconds == 5 and p.span_s == 10
    q = run([0], keep_alive_s=4)  # no span: ends with the last invocation
    assert q.env_seconds == q.span_s == 0.25


def test_trace_durations_replace_the_models() -> None:
    p = run([0, 1], [2.0, None], duration=Dist.fixed(0.25))
    assert kinds(p) == "cc" and p.busy_seconds == 2.25


def test_seeded_draws_are_reproducible() -> None:
    starts = [i * 0.05 for i in range(400)]
    model = {"duration": Dist.parse("exp:200ms"), "reuse": "random:0.5"}
    a, b = run(starts, **model, seed=1), run(starts, **model, seed=1)
    assert a == b
    assert run(starts, **model, seed=2).starts != a.starts


def test_no_traffic_and_bad_ttls() -> None:
    empty = run([])
    assert (empty.invocations, empty.warm_ratio, empty.caches[0].hit_ratio) == (0, None, None)
    with pytest.raises(SimulationInputError, match="cache TTL 0"):
        run([0], cache_ttls=(0,))
