"""The invocation tally exposes exactly what prometheus_client's own Counter and Histogram would
for the same observations (the reference implementation, driven side by side)."""

from __future__ import annotations

import random
import re
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from keepwarm.observe.metrics import DURATION_BUCKETS, NAMESPACE
from keepwarm.observe.tally import InvocationTally

_TIMESTAMP = re.compile(r"^(\w+_created\{.*\}) \S+$", re.MULTILINE)


def _reference() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry()
    counter = Counter(
        "invocations",
        "Invocations by start kind and outcome.",
        ["function", "start_kind", "outcome"],
        namespace=NAMESPACE,
        registry=registry,
    )
    histogram = Histogram(
        "invocation_duration_seconds",
        "Invocation duration as reported by REPORT.",
        ["function", "start_kind"],
        namespace=NAMESPACE,
        registry=registry,
        buckets=DURATION_BUCKETS,
    )
    return registry, counter, histogram


def _text(registry: CollectorRegistry) -> str:
    return _TIMESTAMP.sub(r"\1 <time>", generate_latest(registry).decode())


def test_exposition_matches_prometheus_client_byte_for_byte() -> None:
    registry, counter, histogram = _reference()
    ours = CollectorRegistry()
    tally = InvocationTally(NAMESPACE, DURATION_BUCKETS)
    ours.register(tally)
    rng = random.Random(7)
    edges = [*DURATION_BUCKETS, 0.0, 1e-9, 29.999, 30.0001, 1e6]
    for _ in range(3000):
        seconds = rng.choice(edges) if rng.random() < 0.5 else rng.expovariate(10)
        fn, kind = rng.choice(["a", "b-c"]), rng.choice(["cold", "warm", "provisioned"])
        outcome = rng.choice(["success", "error", "timeout"])
        counter.labels(fn, kind, outcome).inc()
        histogram.labels(fn, kind).observe(seconds)
        tally.add(fn, kind, outcome, seconds)
    assert _text(ours) == _text(registry)
    assert "keepwarm_invocation_duration_seconds_bucket" in _text(ours)


def test_an_empty_tally_exposes_empty_families() -> None:
    registry, _, _ = _reference()
    ours = CollectorRegistry()
    ours.register(InvocationTally(NAMESPACE, DURATION_BUCKETS))
    assert _text(ours) == _text(registry)


def test_scraping_from_another_thread_while_counting() -> None:
    ours = CollectorRegistry()
    tally = InvocationTally(NAMESPACE, DURATION_BUCKETS)
    ours.register(tally)
    stop = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        try:
            while not stop.is_set():
                generate_latest(ours)
        except BaseException as exc:
            errors.append(exc)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(20_000):
            tally.add(f"fn{i % 500}", "warm", "success", 0.001)
    finally:
        stop.set()
        scraper.join(30)
    assert not errors
    assert (
        'keepwarm_invocations_total{function="fn0",outcome="success",start_kind="warm"} 40.0'
        in (generate_latest(ours).decode())
    )
