"""Stale-while-revalidate, negative caching and the decorator's keys."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from keepwarm import orc
from tests.orc.orc_helpers import TickClock


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.001)


def test_stale_while_revalidate_serves_stale_and_refreshes_once(clock: TickClock) -> None:
    cache = orc.Cache(ttl=10, stale_ttl=60, clock=clock)
    assert cache.get_or_set("k", lambda: "v1") == "v1"
    clock.advance(15)
    refresh_started, release = threading.Event(), threading.Event()
    calls = 0

    def slow_origin() -> str:
        nonlocal calls
        calls += 1
        refresh_started.set()
        assert release.wait(10)
        return "v2"

    assert cache.get_or_set("k", slow_origin) == "v1"  # returns at once, refresh in background
    assert refresh_started.wait(10)
    assert cache.get_or_set("k", slow_origin) == "v1"  # still stale, no second refresh
    assert cache.get("k") is None  # plain get never returns stale data
    release.set()
    _wait_until(lambda: cache.get("k") == "v2")
    assert calls == 1
    stats = cache.stats()
    assert stats["stale_hits"] == 2 and stats["origin_calls"] == 2


def test_past_the_stale_window_the_caller_waits_for_the_origin(clock: TickClock) -> None:
    cache = orc.Cache(ttl=10, stale_ttl=5, clock=clock)
    cache.get_or_set("k", lambda: "v1")
    clock.advance(16)
    assert cache.get_or_set("k", lambda: "v2") == "v2"
    assert cache.stats()["stale_hits"] == 0


def test_failed_background_refresh_keeps_serving_stale(clock: TickClock) -> None:
    cache = orc.Cache(ttl=10, stale_ttl=60, clock=clock)
    cache.get_or_set("k", lambda: "v1")
    clock.advance(15)
    done = threading.Event()

    def broken() -> str:
        done.set()
        raise ConnectionError("origin down")

    assert cache.get_or_set("k", broken) == "v1"
    assert done.wait(10)
    _wait_until(lambda: cache.stats()["origin_errors"] == 1)
    _wait_until(lambda: not cache._flights)
    assert cache.get_or_set("k", lambda: "v3") == "v1"  # stale again; this refresh succeeds
    _wait_until(lambda: cache.get("k") == "v3")


def test_async_stale_while_revalidate(clock: TickClock) -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        versions = iter(["v1", "v2"])

        @orc.cached(ttl=10, stale_ttl=60, clock=clock)
        async def fetch() -> str:
            value = next(versions)
            if value == "v2":
                await release.wait()
            return value

        assert await fetch() == "v1"
        clock.advance(15)
        assert await fetch() == "v1"
        assert await fetch() == "v1"
        release.set()
        while fetch.cache.get(()) != "v2":  # type: ignore[attr-defined]
            await asyncio.sleep(0)
        assert await fetch() == "v2"
        assert fetch.cache.stats()["origin_calls"] == 2  # type: ignore[attr-defined]

    asyncio.run(scenario())


def test_negative_results_expire_sooner(clock: TickClock) -> None:
    rows: dict[str, str] = {}
    calls: list[str] = []

    @orc.cached(ttl=300, negative_ttl=5, clock=clock)
    def find(user: str) -> str | None:
        calls.append(user)
        return rows.get(user)

    assert find("ann") is None
    assert find("ann") is None
    assert calls == ["ann"]
    rows["ann"] = "Ann"
    clock.advance(4)
    assert find("ann") is None  # still negatively cached
    clock.advance(1)
    assert find("ann") == "Ann"
    clock.advance(299)
    assert find("ann") == "Ann"
    assert calls == ["ann", "ann"]


def test_negative_ttl_zero_means_never_cache_not_found_and_predicate_is_custom() -> None:
    calls = 0

    @orc.cached(ttl=60, negative_ttl=0, negative=lambda rows: rows == [])
    def search(term: str) -> list[str]:
        nonlocal calls
        calls += 1
        return [] if term == "none" else [term]

    search("none"), search("none"), search("x"), search("x")
    assert calls == 3


def test_decorator_keys_kwargs_custom_and_shared_cache() -> None:
    shared = orc.Cache(name="shared-by-two")

    @orc.cached(cache=shared)
    def double(x: int, scale: int = 2) -> int:
        return x * scale

    @orc.cached(cache=shared)
    def triple(x: int) -> int:
        return x * 3

    assert double(2) == 4 and triple(2) == 6  # same arguments, different functions, no clash
    assert double(2, scale=5) == 10 and double(2) == 4

    @orc.cached(key=lambda user, request_id: user)
    def profile(user: str, request_id: str) -> str:
        return f"{user}:{request_id}"

    assert profile("ann", "r1") == "ann:r1"
    assert profile("ann", "r2") == "ann:r1"
    assert profile.__name__ == "profile"
    assert profile.cache.name.endswith(
        "test_decorator_keys_kwargs_custom_and_shared_cache.<locals>.profile"
    )  # type: ignore[attr-defined]

    @orc.cached
    def takes_list(items: list[int]) -> int:
        return len(items)

    with pytest.raises(TypeError):
        takes_list([1, 2])


def test_decorator_uses_the_explicit_caches_ttl_unless_told(clock: TickClock) -> None:
    cache = orc.Cache(ttl=1, clock=clock)

    @orc.cached(cache=cache)
    def a() -> float:
        return clock.now

    @orc.cached(100, cache=cache)
    def b() -> float:
        return clock.now

    first_a, first_b = a(), b()
    clock.advance(2)
    assert a() != first_a
    assert b() == first_b


def test_cached_takes_a_name_for_its_cache() -> None:
    """docs/orc.md: name shared caches explicitly; the decorator passes Cache options on."""

    @orc.cached(ttl=60, name="prices")
    def price(item: str) -> str:
        return item.upper()

    @orc.cached(ttl=60)
    def unnamed(item: str) -> str:
        return item

    assert price("a") == "A"
    assert price.cache.name == "prices"  # type: ignore[attr-defined]
    assert unnamed.cache.name.endswith("unnamed")  # type: ignore[attr-defined]
