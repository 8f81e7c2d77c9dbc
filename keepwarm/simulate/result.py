"""What a simulation counts while it runs (``Tally``) and what it predicts (``Prediction``).

The cache figure is a module-level cache in each environment, as handler code keeps one
(``keepwarm.orc``'s L1, or a plain dict): the first invocation in an environment (and the first
after its Init ran again) misses and fills it; a later one hits unless the entry is ``ttl_s``
or more old, which misses and fills it again (orc's rule: fresh while ``now < filled + ttl``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from keepwarm.invocation import StartKind

THROTTLED = "throttled"


@dataclass(frozen=True)
class CacheHits:
    """A per-environment cache's hits and misses over the served invocations (``ttl_s`` None:
    entries never expire; only a new or re-initialised environment misses)."""

    ttl_s: float | None
    hits: int
    misses: int

    @property
    def hit_ratio(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None


@dataclass(frozen=True)
class Spread:
    """How many invocations each environment served (nearest-rank percentiles)."""

    environments: int
    mean: float
    p50: int
    p90: int
    p99: int
    max: int

    @classmethod
    def of(cls, counts: list[int]) -> Spread:
        if not counts:
            return cls(0, 0.0, 0, 0, 0, 0)
        counts = sorted(counts)
        n = len(counts)

        def rank(p: float) -> int:
            return counts[max(math.ceil(p * n), 1) - 1]

        return cls(n, sum(counts) / n, rank(0.5), rank(0.9), rank(0.99), counts[-1])


@dataclass(frozen=True)
class Prediction:
    """The outcome of one simulation. ``starts``: per invocation (in arrival order) its start
    kind (``cold``, ``warm``, ``provisioned`` or ``throttled``) and the simulated environment
    that served it, when asked for (``record=True``)."""

    invocations: int
    cold: int
    warm: int
    provisioned: int
    throttled: dict[str, int]
    timeouts: int
    environments: int
    peak_environments: int
    peak_concurrency: int
    per_environment: Spread
    caches: tuple[CacheHits, ...]
    span_s: float
    env_seconds: float
    busy_seconds: float
    starts: tuple[tuple[str, str | None], ...] | None = None

    @property
    def served(self) -> int:
        return self.invocations - sum(self.throttled.values())

    @property
    def warm_ratio(self) -> float | None:
        """Warm and provisioned starts over served invocations (throttled ones never start)."""
        return (self.warm + self.provisioned) / self.served if self.served else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "served": self.served,
            "cold_starts": self.cold,
            "warm_starts": self.warm,
            "provisioned_starts": self.provisioned,
            "warm_ratio": self.warm_ratio,
            "throttled": sum(self.throttled.values()),
            "throttled_by_reason": dict(self.throttled),
            "timeouts": self.timeouts,
            "environments_created": self.environments,
            "peak_environments": self.peak_environments,
            "peak_concurrency": self.peak_concurrency,
            "invocations_per_environment": vars(self.per_environment),
            "cache": [
                {"ttl_s": c.ttl_s, "hits": c.hits, "misses": c.misses, "hit_ratio": c.hit_ratio}
                for c in self.caches
            ],
            "span_s": self.span_s,
            "environment_seconds": self.env_seconds,
            "busy_seconds": self.busy_seconds,
        }


class Tally:
    """Counters a simulation updates as it goes; ``prediction`` freezes them."""

    def __init__(self, ttls: tuple[float | None, ...], record: bool) -> None:
        self.ttls = ttls
        self._limits = [math.inf if t is None else t for t in ttls]
        self.hits = [0] * len(ttls)
        self.misses = [0] * len(ttls)
        self.kinds = {StartKind.COLD: 0, StartKind.WARM: 0, StartKind.PROVISIONED: 0}
        self.throttled: dict[str, int] = {}
        self.invocations = self.timeouts = 0
        self.created = self.live = self.peak_live = 0
        self.busy = self.peak_busy = 0
        self.ended: list[int] = []
        self.env_seconds = self.busy_seconds = 0.0
        self.starts: list[tuple[str, str | None]] | None = [] if record else None

    def throttle(self, reason: str) -> None:
        self.invocations += 1
        self.throttled[reason] = self.throttled.get(reason, 0) + 1
        if self.starts is not None:
            self.starts.append((THROTTLED, None))

    def start(
        self, kind: StartKind, env_id: str, fills: list[float] | None, at: float
    ) -> list[float]:
        """Count a start, and look the cache up at ``at`` (when the handler begins); returns the
        environment's cache fill times afterwards (``fills`` None: its cache is empty)."""
        self.invocations += 1
        self.kinds[kind] += 1
        self.busy += 1
        self.peak_busy = max(self.peak_busy, self.busy)
        if self.starts is not None:
            self.starts.append((kind.value, env_id))
        if fills is None:
            for j in range(len(self.misses)):
                self.misses[j] += 1
            return [at] * len(self.ttls)
        for j, limit in enumerate(self._limits):
            if at - fills[j] < limit:
                self.hits[j] += 1
            else:
                self.misses[j] += 1
                fills[j] = at
        return fills

    def finish(self, busy_s: float) -> None:
        self.busy -= 1
        self.busy_seconds += busy_s

    def env_created(self) -> None:
        self.created += 1
        self.live += 1
        self.peak_live = max(self.peak_live, self.live)

    def env_ended(self, invocations: int, lived_s: float) -> None:
        self.live -= 1
        self.ended.append(invocations)
        self.env_seconds += lived_s

    def prediction(self, span_s: float) -> Prediction:
        return Prediction(
            invocations=self.invocations,
            cold=self.kinds[StartKind.COLD],
            warm=self.kinds[StartKind.WARM],
            provisioned=self.kinds[StartKind.PROVISIONED],
            throttled=dict(self.throttled),
            timeouts=self.timeouts,
            environments=self.created,
            peak_environments=self.peak_live,
            peak_concurrency=self.peak_busy,
            per_environment=Spread.of(self.ended),
            caches=tuple(
                CacheHits(t, h, m)
                for t, h, m in zip(self.ttls, self.hits, self.misses, strict=True)
            ),
            span_s=span_s,
            env_seconds=self.env_seconds,
            busy_seconds=self.busy_seconds,
            starts=tuple(self.starts) if self.starts is not None else None,
        )
