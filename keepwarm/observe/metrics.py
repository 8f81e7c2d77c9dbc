"""Prometheus metrics for one server (or one ``Runtime``): invocations, environments, leaks, orc.

Why a registry per server and not the global one: tests, the CLI and the HTTP server may run
several runtimes in one process, and each must report only its own numbers. Environment counts
and orc cache statistics are read from the live environments at scrape time, so they can never
drift from the state the pool acts on.

A leaf of the architecture: it knows environments only through the small protocol below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from keepwarm.invocation import InvocationResult
from keepwarm.observe.tally import InvocationTally

NAMESPACE = "keepwarm"
CONTENT_TYPE = CONTENT_TYPE_LATEST
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_OUTCOMES = {
    "Sandbox.Timedout": "timeout",
    "Runtime.OutOfMemory": "out_of_memory",
    "Runtime.ExitError": "crash",
}
_ORC_NOT_SUMMED = frozenset({"hit_ratio", "env_age_s", "max_bytes", "max_items"})


class _Config(Protocol):
    @property
    def name(self) -> str: ...


class _State(Protocol):
    @property
    def value(self) -> str: ...


class EnvLike(Protocol):
    """What metrics need from an environment (``LocalEnvironment`` satisfies it)."""

    id: str
    orc_stats: dict[str, Any]

    @property
    def config(self) -> _Config: ...

    @property
    def state(self) -> Any: ...


def outcome(result: InvocationResult) -> str:
    """``success``, ``error`` (the function raised), or the platform's reason for failing."""
    if result.ok:
        return "success"
    return _OUTCOMES.get(result.error_type or "", "error")


class Metrics:
    """The metrics of one server; ``on_state`` has the pool ``Listener`` signature."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._envs: dict[str, EnvLike] = {}
        self.tally = InvocationTally(NAMESPACE, DURATION_BUCKETS)
        self.registry.register(self.tally)
        self.cold_starts = self._counter("cold_starts", "Invocations that started cold.")
        self.throttles = self._counter("throttles", "Invocations refused by a concurrency limit.")
        self.leaks = self._counter("leaks", "Request values found reachable after invocations.")
        self.registry.register(_LiveCollector(self._envs))

    def _counter(self, name: str, doc: str) -> Counter:
        return Counter(name, doc, ["function"], namespace=NAMESPACE, registry=self.registry)

    def record(self, result: InvocationResult) -> None:
        """Count one finished invocation (any outcome); on every invocation's path."""
        fn, kind = result.function_name, result.start_kind.value
        self.tally.add(fn, kind, outcome(result), result.duration_ms / 1000)
        if kind == "cold":
            self.cold_starts.labels(fn).inc()
        if result.leaks:
            self.leaks.labels(fn).inc(len(result.leaks))

    def throttled(self, function: str) -> None:
        self.throttles.labels(function).inc()

    def on_state(self, env: EnvLike, old: _State, new: _State) -> None:
        """Track live environments (every state but ``dead``) for the scrape-time gauges."""
        if new.value == "dead":
            self._envs.pop(env.id, None)
        else:
            self._envs[env.id] = env

    def render(self) -> bytes:
        """The Prometheus text exposition format (serve it with ``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Gauges computed from the live environments when scraped."""

    def __init__(self, envs: dict[str, EnvLike]) -> None:
        self._envs = envs

    def collect(self) -> Iterator[Metric]:
        envs = list(self._envs.values())
        yield self._environments(envs)
        yield from self._orc(envs)

    @staticmethod
    def _environments(envs: list[EnvLike]) -> Metric:
        family = GaugeMetricFamily(
            f"{NAMESPACE}_environments",
            "Live execution environments by state.",
            labels=["function", "state"],
        )
        counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        for env in envs:
            counts[(env.config.name, str(getattr(env.state, "value", env.state)))] += 1
        for (fn, state), n in sorted(counts.items()):
            family.add_metric([fn, state], n)
        return family

    @staticmethod
    def _orc(envs: list[EnvLike]) -> Iterator[Metric]:
        """orc cache statistics summed over a function's live environments, per cache name."""
        sums: defaultdict[str, defaultdict[tuple[str, str], float]] = defaultdict(
            lambda: defaultdict(float)
        )
        for env in envs:
            for cache, stats in (env.orc_stats or {}).items():
                for stat, value in stats.items():
                    if stat not in _ORC_NOT_SUMMED and isinstance(value, int | float):
                        sums[stat][(env.config.name, str(cache))] += value
        for stat in sorted(sums):
            family = GaugeMetricFamily(
                f"{NAMESPACE}_orc_{stat}",
                f"orc cache '{stat}' summed over live environments.",
                labels=["function", "cache"],
            )
            for (fn, cache), value in sorted(sums[stat].items()):
                family.add_metric([fn, cache], value)
            yield family
        yield from _hit_ratio(sums)


def _hit_ratio(sums: dict[str, defaultdict[tuple[str, str], float]]) -> Iterator[Metric]:
    empty: dict[tuple[str, str], float] = {}
    hits, stale, misses = (sums.get(k, empty) for k in ("hits", "stale_hits", "misses"))
    keys = sorted(set(hits) | set(misses))
    if not keys:
        return
    family = GaugeMetricFamily(
        f"{NAMESPACE}_orc_hit_ratio",
        "orc (hits + stale hits) / lookups over live environments.",
        labels=["function", "cache"],
    )
    for key in keys:
        found = hits.get(key, 0.0) + stale.get(key, 0.0)
        lookups = found + misses.get(key, 0.0)
        family.add_metric(list(key), found / lookups if lookups else 0.0)
    yield family
