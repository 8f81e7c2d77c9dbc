"""Metrics of a real runtime: invocations, environments, leaks, throttles and orc caches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from keepwarm import ServerConfig
from keepwarm.api import AsyncRuntime
from keepwarm.errors import Throttled
from tests.helpers import function

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CARD = json.loads((EXAMPLES / "events" / "payment.json").read_text())

ORC = """
from keepwarm import orc
users = orc.Cache(ttl=60, max_items=10, name="users")

def handler(event, context):
    return users.get_or_set(event["id"], lambda: {"id": event["id"]})
"""
SLOW = """
import time
def handler(event, context):
    time.sleep(5)
"""


def samples(rt: AsyncRuntime) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse our own exposition back, so the test reads what a Prometheus server would."""
    out = {}
    for family in text_string_to_metric_families(rt.metrics.render().decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(rt: AsyncRuntime, name: str, **labels: str) -> float | None:
    return samples(rt).get((name, frozenset(labels.items())))


def run(tmp_path: Path, body: Callable[[AsyncRuntime], Awaitable[None]], **server: Any) -> None:
    async def main() -> None:
        configs = [
            function(tmp_path, "Orc", ORC),
            function(tmp_path, "Slow", SLOW, timeout_s=1),
            function(
                tmp_path, "Blocked", "def handler(e, c):\n    return 1\n", reserved_concurrency=0
            ),
        ]
        config = ServerConfig(data_dir=tmp_path / "data", **server)
        async with AsyncRuntime(configs, template=EXAMPLES / "template.yaml", server=config) as rt:
            await body(rt)

    asyncio.run(main())


def test_invocations_by_start_kind_and_outcome(tmp_path: Path) -> None:
    async def body(rt: AsyncRuntime) -> None:
        for _ in range(3):
            await rt.invoke("Counter")
        invalid = json.loads((EXAMPLES / "events" / "payment-invalid.json").read_text())
        await rt.invoke("PaymentFixed", invalid)
        await rt.invoke("Slow")
        total = "keepwarm_invocations_total"
        assert value(rt, total, function="Counter", start_kind="cold", outcome="success") == 1
        assert value(rt, total, function="Counter", start_kind="warm", outcome="success") == 2
        assert value(rt, total, function="PaymentFixed", start_kind="cold", outcome="error") == 1
        assert value(rt, total, function="Slow", start_kind="cold", outcome="timeout") == 1
        assert value(rt, "keepwarm_cold_starts_total", function="Counter") == 1
        count = "keepwarm_invocation_duration_seconds_count"
        assert value(rt, count, function="Counter", start_kind="warm") == 2

    run(tmp_path, body)


def test_environments_gauge_follows_state(tmp_path: Path) -> None:
    async def body(rt: AsyncRuntime) -> None:
        await asyncio.gather(*(rt.invoke("Counter") for _ in range(2)))
        assert value(rt, "keepwarm_environments", function="Counter", state="idle") == 2
        await rt.invoke("Slow")  # killed at its timeout: its environment is reset, not idle
        assert value(rt, "keepwarm_environments", function="Slow", state="reset") == 1
        await rt.router.close()
        assert not any(name == "keepwarm_environments" for name, _ in samples(rt))

    run(tmp_path, body)


def test_leaks_and_throttles(tmp_path: Path) -> None:
    async def body(rt: AsyncRuntime) -> None:
        await rt.invoke("Payment", CARD)
        await rt.invoke("Payment", CARD)
        await rt.invoke("PaymentFixed", CARD)
        assert value(rt, "keepwarm_leaks_total", function="Payment") == 2
        assert value(rt, "keepwarm_leaks_total", function="PaymentFixed") is None
        with pytest.raises(Throttled):
            await rt.invoke("Blocked")
        assert value(rt, "keepwarm_throttles_total", function="Blocked") == 1

    run(tmp_path, body, check_leaks=True)


def test_orc_cache_stats_per_function_and_cache(tmp_path: Path) -> None:
    async def body(rt: AsyncRuntime) -> None:
        for key in ("a", "a", "a", "b"):
            await rt.invoke("Orc", {"id": key})
        labels = {"function": "Orc", "cache": "users"}
        assert value(rt, "keepwarm_orc_hits", **labels) == 2
        assert value(rt, "keepwarm_orc_misses", **labels) == 2
        assert value(rt, "keepwarm_orc_items", **labels) == 2
        assert value(rt, "keepwarm_orc_hit_ratio", **labels) == 0.5

    run(tmp_path, body)


def test_each_runtime_has_its_own_registry(tmp_path: Path) -> None:
    async def body(rt: AsyncRuntime) -> None:
        await rt.invoke("Counter")
        other = AsyncRuntime(server=ServerConfig(data_dir=tmp_path / "other"))
        assert (
            value(
                other,
                "keepwarm_invocations_total",
                function="Counter",
                start_kind="cold",
                outcome="success",
            )
            is None
        )
        assert (
            REGISTRY.get_sample_value("keepwarm_cold_starts_total", {"function": "Counter"}) is None
        )

    run(tmp_path, body)
