"""The shared tier against a real redis-server: write-through, TTLs, outages and recovery."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Hashable

import pytest

from keepwarm import orc
from tests.orc.orc_helpers import RedisServer, TickClock

pytestmark = pytest.mark.redis

# Generous against CI jitter, yet far below what an unbounded client would take (seconds).
LATENCY_BOUND_S = 0.5


def _pair(url: str, clock: TickClock, **options: object) -> tuple[orc.Cache, orc.Cache]:
    """Two caches in front of one namespace: two environments of the same function."""
    first = orc.Cache(name="users", ttl=60, shared=url, clock=clock, **options)  # type: ignore[arg-type]
    second = orc.Cache(name="users", ttl=60, shared=url, clock=clock, **options)  # type: ignore[arg-type]
    return first, second


def test_write_through_and_l2_hit_from_another_environment(
    redis_server: RedisServer, clock: TickClock
) -> None:
    env_a, env_b = _pair(redis_server.url, clock)
    calls: list[str] = []

    def origin() -> dict[str, object]:
        calls.append("db")
        return {"id": 7, "tags": ["a", "b"]}

    assert env_a.get_or_set("user:7", origin) == {"id": 7, "tags": ["a", "b"]}
    assert redis_server.client().exists("orc:users:s:user:7") == 1
    assert env_b.get_or_set("user:7", origin) == {"id": 7, "tags": ["a", "b"]}
    assert calls == ["db"]
    b_stats = env_b.stats()
    assert (b_stats["shared_hits"], b_stats["origin_calls"], b_stats["items"]) == (1, 0, 1)
    assert env_b.get("user:7") == {"id": 7, "tags": ["a", "b"]}  # now an L1 hit
    assert env_b.stats()["hits"] == 1


def test_non_string_keys_delete_and_clear(redis_server: RedisServer, clock: TickClock) -> None:
    env_a, env_b = _pair(redis_server.url, clock)
    env_a.set(("tenant", 3), [1, 2])
    assert env_b.get(("tenant", 3)) == [1, 2]
    env_a.delete(("tenant", 3))
    env_b.clear()
    assert env_b.get(("tenant", 3)) is None
    env_a.set("x", 1)
    env_a.clear(shared=True)
    assert redis_server.client().keys("orc:users:*") == []
    with pytest.raises(TypeError):
        env_a.set(object(), 1)


def test_ttl_is_honoured_in_redis_and_carried_into_l1(
    redis_server: RedisServer, clock: TickClock
) -> None:
    env_a, env_b = _pair(redis_server.url, clock)
    env_a.set("k", "v", ttl=30)
    pttl = redis_server.client().pttl("orc:users:s:k")
    assert 28_000 < pttl <= 30_000
    env_a.set("forever", "v", ttl=None)
    assert redis_server.client().pttl("orc:users:s:forever") == -1

    env_a.set("short", "v", ttl=0.3)
    assert env_b.get("short") == "v"
    clock.advance(0.3)  # env_b's L1 copy kept the original deadline, not a fresh 60 s
    raw = redis_server.client()
    deadline = time.monotonic() + 10
    while raw.exists("orc:users:s:short"):
        assert time.monotonic() < deadline, "redis never expired the key"
        time.sleep(0.01)
    assert env_b.get("short") is None


def test_unserialisable_values_stay_in_l1_only(redis_server: RedisServer, clock: TickClock) -> None:
    env_a, env_b = _pair(redis_server.url, clock)
    env_a.set("obj", object())
    assert env_a.get("obj") is not None
    assert env_b.get("obj") is None
    assert env_a.stats()["encode_errors"] == 1 and env_a.stats()["shared_errors"] == 0


def test_pickle_from_the_network_is_refused_unless_enabled(
    redis_server: RedisServer, clock: TickClock
) -> None:
    payload = b"p" + (0).to_bytes(8, "big") + pickle.dumps({"x": 1})
    redis_server.client().set("orc:users:s:k", payload)
    safe = orc.Cache(name="users", shared=redis_server.url, clock=clock)
    assert safe.get("k") is None
    trusting = orc.Cache(name="users", shared=redis_server.url, clock=clock, allow_pickle=True)
    assert trusting.get("k") == {"x": 1}


def _timed(call: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def test_redis_killed_mid_test_then_restarted(redis_server: RedisServer, clock: TickClock) -> None:
    cache = orc.Cache(name="outage", ttl=60, shared=redis_server.url, clock=clock)
    calls = 0

    @orc.cached(cache=cache)
    def handler(n: int) -> int:
        nonlocal calls
        calls += 1
        return n * n

    assert handler(1) == 1
    redis_server.kill()

    for n in range(2, 40):
        value, elapsed = _timed(lambda n=n: handler(n))  # type: ignore[misc]
        assert value == n * n
        assert elapsed < LATENCY_BOUND_S
    stats = cache.stats()
    assert calls == 39
    assert stats["shared_errors"] >= 1 and stats["shared_circuit_open"] == 1
    assert stats["shared_skipped"] > 0  # the open circuit kept later calls off the network

    redis_server.start()  # same port
    clock.advance(31)  # past the longest backoff: the next call is the probe
    assert handler(100) == 10_000
    assert cache.stats()["shared_circuit_open"] == 0
    keys = redis_server.client().keys("orc:outage:*")
    assert keys, "write-through did not resume after the restart"
    other_env = orc.Cache(name="outage", shared=redis_server.url, clock=clock)
    assert other_env.get(next(reversed(cache._data))) == 10_000


def test_paused_redis_costs_one_bounded_timeout(
    redis_server: RedisServer, clock: TickClock
) -> None:
    """SIGSTOP: connections are accepted by the kernel but never answered; slow, not down."""
    cache = orc.Cache(name="slow", shared=redis_server.url, clock=clock, shared_timeout=0.05)
    cache.set("warm-the-pool", 1)
    redis_server.pause()
    try:
        value, elapsed = _timed(lambda: cache.get_or_set("k", lambda: "origin"))
        assert value == "origin" and elapsed < LATENCY_BOUND_S
        assert cache.stats()["shared_errors"] >= 1
        _, elapsed = _timed(lambda: cache.get_or_set("k2", lambda: "origin"))
        assert elapsed < 0.05  # circuit open: no network at all
    finally:
        redis_server.resume()
    clock.advance(60)
    cache.set("after", 2)
    assert redis_server.client().exists("orc:slow:s:after") == 1


def test_a_second_process_reads_what_the_first_wrote(redis_server: RedisServer) -> None:
    """A real second environment: another interpreter with an empty L1."""
    writer = orc.Cache(name="xproc", ttl=60, shared=redis_server.url)
    writer.set("config", {"flag": True})
    script = textwrap.dedent(
        f"""
        from keepwarm import orc
        cache = orc.Cache(name="xproc", shared={redis_server.url!r})
        assert cache.get("config") == {{"flag": True}}, cache.get("config")
        assert cache.stats()["shared_hits"] == 1
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


# Names that a plain "orc:<name>:" prefix or an unescaped SCAN pattern would confuse; each name
# comes before those its prefix or pattern could match, so a shared clear would hit them.
AWKWARD_NAMES = ["tenant", "tenant:s", "users", "users:v2", "users:v2:s", "a", "a:j", "pct:"]
AWKWARD_NAMES += ["pct%3A", "cache[v2]", "cache?", "cache*", "cache2", "back\\slash", "backslash"]
AWKWARD_KEYS: list[Hashable] = ["acme", "s:acme", "v2:s:acme", "j:[1]", (1,), ("tenant", 3)]


def _label(name: str, key: Hashable) -> str:
    return f"{name} / {key!r}"


def test_no_two_caches_share_a_redis_key(redis_server: RedisServer, clock: TickClock) -> None:
    """Cache ``tenant``, key ``s:acme`` and cache ``tenant:s``, key ``acme`` once shared a key."""
    for name in AWKWARD_NAMES:
        cache = orc.Cache(name=name, ttl=60, shared=redis_server.url, clock=clock)
        for key in AWKWARD_KEYS:
            cache.set(key, _label(name, key))
    assert redis_server.client().dbsize() == len(AWKWARD_NAMES) * len(AWKWARD_KEYS)
    for name in AWKWARD_NAMES:
        fresh = orc.Cache(name=name, shared=redis_server.url, clock=clock)
        assert [fresh.get(key) for key in AWKWARD_KEYS] == [
            _label(name, key) for key in AWKWARD_KEYS
        ]


def test_a_shared_clear_removes_exactly_its_own_keys(
    redis_server: RedisServer, clock: TickClock
) -> None:
    """Each clear runs while every cache whose name it could be confused with still has keys."""
    caches = [
        orc.Cache(name=n, ttl=60, shared=redis_server.url, clock=clock) for n in AWKWARD_NAMES
    ]
    for cache in caches:
        cache.set("k", cache.name)
    raw = redis_server.client()
    for cleared, cache in enumerate(caches, start=1):
        cache.clear(shared=True)
        assert orc.Cache(name=cache.name, shared=redis_server.url).get("k") is None
        assert raw.dbsize() == len(caches) - cleared, f"clearing {cache.name!r}"


def test_shared_keys_stay_readable(redis_server: RedisServer, clock: TickClock) -> None:
    """Plain names keep ``orc:<name>:``; only ``%``, ``:`` and glob characters are escaped."""
    for name in ["users", "app.get_user", "users:v2", "cache[v2]", "pct%"]:
        orc.Cache(name=name, shared=redis_server.url, clock=clock).set("k:1", 1)
    assert sorted(redis_server.client().keys("*")) == [
        b"orc:app.get_user:s:k:1",
        b"orc:cache%5Bv2%5D:s:k:1",
        b"orc:pct%25:s:k:1",
        b"orc:users%3Av2:s:k:1",
        b"orc:users:s:k:1",
    ]
