"""Predict how often environments (and so module-level caches) are warm for a given traffic.

The simulator replays traffic through the pool's own scheduling functions
(``keepwarm.pool.scheduler``), so its prediction is what keepwarm's runtime does with that
traffic and that keep-alive policy; ``tests/simulate/test_agreement.py`` checks it against the
real runtime invocation by invocation. It imports nothing that starts a process.

>>> from keepwarm.simulate import Dist, FunctionModel, poisson, simulate
>>> traffic = poisson(0.01, span_s=86400, seed=1)  # one call every 100 s on average, for a day
>>> model = FunctionModel(duration=Dist.parse("exp:100ms"), keep_alive_s=300)
>>> p = simulate(traffic, model, cache_ttls=(60,))
>>> p.invocations, p.cold, round(p.warm_ratio, 3)
(904, 45, 0.95)
>>> [(c.ttl_s, round(c.hit_ratio, 3)) for c in p.caches]  # no TTL, then 60 s
[(None, 0.95), (60, 0.389)]
"""

from __future__ import annotations

from collections.abc import Sequence

from keepwarm.errors import SimulationInputError
from keepwarm.simulate.dist import Dist, parse_time
from keepwarm.simulate.engine import Engine
from keepwarm.simulate.model import FunctionModel
from keepwarm.simulate.result import CacheHits, Prediction, Spread
from keepwarm.simulate.traffic import Segment, Traffic, poisson, read_trace

__all__ = [
    "CacheHits",
    "Dist",
    "FunctionModel",
    "Prediction",
    "Segment",
    "Spread",
    "Traffic",
    "parse_time",
    "poisson",
    "read_trace",
    "simulate",
]


def simulate(
    traffic: Traffic,
    model: FunctionModel | None = None,
    *,
    cache_ttls: Sequence[float] = (),
    seed: int = 0,
    record: bool = False,
) -> Prediction:
    """Run ``traffic`` against one function behaving as ``model`` (keepwarm's defaults when
    None), alone on its server. ``seed`` draws durations (and reuse coins); the same inputs
    give the same prediction. The cache figures cover a cache without expiry, then each of
    ``cache_ttls`` (seconds). ``record`` keeps each invocation's start kind and environment."""
    for ttl in cache_ttls:
        if not ttl > 0:
            raise SimulationInputError(f"cache TTL {ttl!r} must be above 0 seconds")
    ttls: tuple[float | None, ...] = (None, *cache_ttls)
    return Engine(model or FunctionModel(), ttls, seed, record).run(traffic)
