from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from keepwarm import orc
from keepwarm.orc._size import DEFAULT_BUDGET, estimate
from tests.orc.orc_helpers import TickClock


def test_get_set_delete_clear(clock: TickClock) -> None:
    cache = orc.Cache(clock=clock)
    assert cache.get("a") is None
    assert cache.get("a", "dflt") == "dflt"
    cache.set("a", 1)
    cache.set("b", None)
    assert cache.get("a") == 1
    assert cache.get("b", "dflt") is None
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    cache.clear()
    assert len(cache) == 0
    assert cache.stats()["bytes"] == 0


def test_ttl_expires_with_the_injected_clock(clock: TickClock) -> None:
    cache = orc.Cache(ttl=10, clock=clock)
    cache.set("k", "v")
    clock.advance(9.999)
    assert cache.get("k") == "v"
    clock.advance(0.001)
    assert cache.get("k") is None
    assert cache.stats()["expirations"] == 1
    assert len(cache) == 0


def test_per_entry_ttl_overrides_default(clock: TickClock) -> None:
    cache = orc.Cache(ttl=10, clock=clock)
    cache.set("short", 1, ttl=1)
    cache.set("forever", 2, ttl=None)
    cache.set("default", 3)
    cache.set("never_stored", 4, ttl=0)
    clock.advance(5)
    assert [cache.get(k) for k in ("short", "forever", "default")] == [None, 2, 3]
    clock.advance(1_000_000)
    assert cache.get("forever") == 2
    assert cache.get("never_stored") is None


def test_expire_purges_eagerly(clock: TickClock) -> None:
    cache = orc.Cache(ttl=1, clock=clock)
    for i in range(10):
        cache.set(i, i)
    cache.set("keep", 1, ttl=100)
    clock.advance(2)
    assert cache.expire() == 10
    assert len(cache) == 1


def test_clock_may_be_a_plain_callable_or_keepwarms_fakeclock() -> None:
    now = [0.0]
    cache = orc.Cache(ttl=1, clock=lambda: now[0])
    cache.set("k", 1)
    now[0] = 2.0
    assert cache.get("k") is None

    from keepwarm.clock import FakeClock  # structural compatibility only; orc never imports it

    fake = FakeClock()
    cache = orc.Cache(ttl=1, clock=fake)
    cache.set("k", 1)
    fake.advance(1)
    assert cache.get("k") is None
    with pytest.raises(TypeError):
        orc.Cache(clock=42)  # type: ignore[arg-type]


def test_lru_order_decides_what_max_items_evicts() -> None:
    cache = orc.Cache(max_items=3)
    for key in "abc":
        cache.set(key, key)
    assert cache.get("a") == "a"  # a is now most recently used; b is the oldest
    cache.set("d", "d")
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == ["a", "c", "d"]
    cache.set("c", "c2")  # overwriting refreshes recency too
    cache.set("e", "e")
    assert cache.get("a") is None
    assert cache.stats()["evictions"] == 2


def test_byte_bound_evicts_least_recently_used() -> None:
    blob = "x" * 10_000
    one = orc.Cache()
    one.set("probe", blob)
    entry_bytes = int(one.stats()["bytes"])
    cache = orc.Cache(max_bytes=entry_bytes * 3 + entry_bytes // 2)
    for i in range(3):
        cache.set(f"k{i}", "x" * 10_000)
    cache.get("k0")
    cache.set("k3", "x" * 10_000)
    stats = cache.stats()
    assert stats["items"] == 3
    assert stats["evictions"] == 1
    assert stats["bytes"] <= stats["max_bytes"]
    assert cache.get("k1") is None
    assert cache.get("k0") is not None


def test_value_larger_than_the_bound_is_not_kept_but_replaces_old_entry() -> None:
    cache = orc.Cache(max_bytes=5_000)
    cache.set("k", "small")
    cache.set("k", "x" * 10_000)
    assert cache.get("k") is None
    assert cache.stats()["rejected"] == 1
    assert cache.stats()["bytes"] == 0


def test_max_items_zero_keeps_nothing_in_memory() -> None:
    cache = orc.Cache(max_items=0)
    cache.set("k", 1)
    assert cache.get("k") is None
    with pytest.raises(ValueError):
        orc.Cache(max_items=-1)


@pytest.mark.parametrize(
    ("memory", "expected_mb"), [("1024", 102.4), ("128", 12.8), (None, 12.8), ("junk", 12.8)]
)
def test_default_byte_bound_is_a_tenth_of_function_memory(
    monkeypatch: pytest.MonkeyPatch, memory: str | None, expected_mb: float
) -> None:
    if memory is None:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    else:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
    assert orc.Cache().max_bytes == pytest.approx(expected_mb * 1024 * 1024, abs=1)


def test_size_estimate_grows_with_content_and_is_bounded() -> None:
    small, big = estimate({"a": 1}), estimate({str(i): f"{i:0100d}" for i in range(1000)})
    assert 0 < small < 1_000 < 100_000 < big
    nested: list[Any] = []
    nested.append(nested)
    assert estimate(nested) > 0
    huge = list(range(200_000))
    assert estimate(huge) >= 200_000 * 28 * 0.9
    chain: list[Any] = []
    for i in range(10_000):
        chain = [chain, f"link-{i}"]
    assert estimate(chain) >= DEFAULT_BUDGET * 50  # followed as far as the budget goes


class _Slotted:
    __slots__ = ("payload",)

    def __init__(self) -> None:
        self.payload = "z" * 50_000


def test_size_estimate_follows_attributes_and_slots() -> None:
    class Plain:
        def __init__(self) -> None:
            self.payload = "z" * 50_000

    assert estimate(Plain()) > 50_000
    assert estimate(_Slotted()) > 50_000


def test_concurrent_writers_and_readers_keep_the_books_straight() -> None:
    cache = orc.Cache(max_items=64, max_bytes=64 * 1024)
    threads, rounds = 8, 2_000
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            barrier.wait()
            for i in range(rounds):
                key = (seed * 7 + i) % 200
                if i % 3:
                    cache.set(key, "v" * (key % 50))
                else:
                    value = cache.get(key)
                    assert value is None or value == "v" * (key % 50)
                if i % 97 == 0:
                    cache.delete(key)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    stats = cache.stats()
    assert stats["items"] <= 64
    assert 0 <= stats["bytes"] <= 64 * 1024
    assert stats["bytes"] == sum(e.size for e in cache._data.values())


@pytest.mark.parametrize("field", ["ttl", "stale_ttl", "negative_ttl"])
def test_a_nan_duration_is_refused_where_it_is_given(field: str) -> None:
    nan = float("nan")
    with pytest.raises(ValueError, match=f"{field} must be a number of seconds or None, not NaN"):
        orc.Cache(**{field: nan})
    cache = orc.Cache(ttl=60)
    with pytest.raises(ValueError, match="NaN"):
        cache.get_or_set("k", lambda: 1, **{field: nan})
    if field != "negative_ttl":
        with pytest.raises(ValueError, match="NaN"):
            cache.set("k", 1, **{field: nan})
    assert cache.get("k") is None and cache.get_or_set("k", lambda: 2) == 2


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"ttl": "60"}, TypeError, "ttl must be a number of seconds or None, not '60'"),
        ({"ttl": -1}, ValueError, "ttl must be >= 0 seconds, not -1"),
        ({"stale_ttl": -0.5}, ValueError, "stale_ttl must be >= 0 seconds"),
        ({"max_bytes": -1}, ValueError, "max_bytes must be >= 0, not -1"),
        ({"max_items": 2.5}, TypeError, "max_items must be a whole number or None"),
        ({"name": 5}, TypeError, "name must be a string or None, not 5"),
        ({"shared": 5}, TypeError, "shared must be a string or None, not 5"),
    ],
)
def test_bad_arguments_are_refused_where_they_are_given(
    options: dict[str, object], error: type[Exception], words: str
) -> None:
    """Not at the first set or load, where ttl="60" used to fail with a bare TypeError."""
    with pytest.raises(error, match=re.escape(words)):
        orc.Cache(**options)  # type: ignore[arg-type]
    with pytest.raises(error, match=re.escape(words)):
        orc.cached(**options)(lambda: 1)  # type: ignore[arg-type]


def test_negative_must_be_a_predicate_and_cached_must_wrap_a_function() -> None:
    with pytest.raises(TypeError, match="negative must be a function of the value"):
        orc.cached(ttl=60, negative={})(lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="put it below @classmethod"):
        orc.cached(ttl=60)(classmethod(lambda cls: 1))  # type: ignore[arg-type]
