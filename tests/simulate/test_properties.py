"""Properties of the simulator over generated traffic and settings (Hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keepwarm.simulate import Dist, FunctionModel, Traffic, simulate

GAPS = st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=60)
DURATIONS = st.sampled_from([Dist.fixed(0.1), Dist.parse("exp:1"), Dist.parse("uniform:0:8")])


def _traffic(gaps: list[float]) -> Traffic:
    starts, t = [], 0.0
    for gap in gaps:
        t += gap
        starts.append(t)
    return Traffic(starts)


MODELS = st.builds(
    FunctionModel,
    duration=DURATIONS,
    init=st.sampled_from([Dist.fixed(0), Dist.fixed(0.5)]),
    timeout_s=st.sampled_from([3, 900]),
    keep_alive_s=st.sampled_from([0.0, 1.0, 10.0, 600.0]),
    max_lifetime_s=st.sampled_from([5.0, 7200.0]),
    reserved_concurrency=st.sampled_from([None, 0, 1, 3]),
    provisioned_concurrency=st.integers(0, 2),
    concurrency_limit=st.sampled_from([2, 1000]),
    max_invocations_per_env=st.sampled_from([None, 1, 3]),
    reuse=st.sampled_from(["always", "never", "random:0.5"]),
)


@settings(max_examples=300, deadline=None)
@given(gaps=GAPS, model=MODELS, seed=st.integers(0, 3))
def test_every_invocation_is_counted_once(
    gaps: list[float], model: FunctionModel, seed: int
) -> None:
    p = simulate(_traffic(gaps), model, cache_ttls=(5,), seed=seed, record=True)
    throttled = sum(p.throttled.values())
    assert p.cold + p.warm + p.provisioned + throttled == p.invocations == len(gaps)
    for cache in p.caches:
        assert cache.hits + cache.misses == p.served
    assert (
        p.caches[0].hits >= p.caches[1].hits
    )  # an entry that never expires hits at least as often
    assert 1 <= p.peak_concurrency <= p.peak_environments <= p.environments or p.served == 0
    assert p.per_environment.environments == p.environments
    assert sum(k == "throttled" for k, _ in p.starts or ()) == throttled
    assert p.timeouts <= p.served and p.busy_seconds >= 0 and p.env_seconds >= 0


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(1, 10**6, allow_nan=False), min_size=1, max_size=40), init=st.booleans()
)
def test_sequential_traffic_never_idle_too_long_has_one_cold_start(
    gaps: list[float], init: bool
) -> None:
    """Keep-alive and lifetime beyond the traffic, calls never overlapping: one environment."""
    model = FunctionModel(
        duration=Dist.fixed(0.5),
        init=Dist.fixed(0.5 if init else 0),
        keep_alive_s=10**9,
        max_lifetime_s=10**9,
    )
    p = simulate(_traffic(gaps), model)
    assert (p.cold, p.warm, p.environments, p.peak_environments) == (1, len(gaps) - 1, 1, 1)


@settings(max_examples=200, deadline=None)
@given(gaps=GAPS, keep_alive=st.sampled_from([0.0, 2.0, 60.0]))
def test_without_provisioning_or_timeouts_the_untimed_cache_hits_exactly_the_warm_starts(
    gaps: list[float], keep_alive: float
) -> None:
    model = FunctionModel(duration=Dist.parse("exp:1"), keep_alive_s=keep_alive, timeout_s=900)
    p = simulate(_traffic(gaps), model)
    assert p.caches[0].hit_ratio == p.warm_ratio
    assert p.cold == p.environments
