"""Single-flight: a burst of callers missing the same key costs exactly one origin call."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from keepwarm import orc

THREADS = 16


def _wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.001)


def _burst(call: Callable[[], object]) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(THREADS)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            value = call()
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_sixteen_threads_one_origin_call() -> None:
    cache = orc.Cache(ttl=60)
    calls = 0

    def origin() -> str:
        nonlocal calls
        calls += 1
        _wait_until(lambda: cache.stats()["flight_waits"] == THREADS - 1)
        return "value"

    results, errors = _burst(lambda: cache.get_or_set("k", origin))
    assert errors == []
    assert results == ["value"] * THREADS
    assert calls == 1
    stats = cache.stats()
    assert (stats["origin_calls"], stats["misses"], stats["flight_waits"]) == (1, 16, 15)
    assert cache.get_or_set("k", origin) == "value"
    assert calls == 1


def test_decorated_function_single_flight_across_threads() -> None:
    calls = 0

    @orc.cached(ttl=60)
    def lookup(user_id: int) -> dict[str, int]:
        nonlocal calls
        calls += 1
        _wait_until(lambda: lookup.cache.stats()["flight_waits"] == THREADS - 1)  # type: ignore[attr-defined]
        return {"id": user_id}

    results, errors = _burst(lambda: lookup(7))
    assert errors == [] and calls == 1
    assert all(r == {"id": 7} for r in results)


def test_origin_error_reaches_every_waiter_and_is_not_cached() -> None:
    cache = orc.Cache(ttl=60)
    calls = 0

    def failing() -> str:
        nonlocal calls
        calls += 1
        _wait_until(lambda: cache.stats()["flight_waits"] == THREADS - 1)
        raise LookupError("db down")

    results, errors = _burst(lambda: cache.get_or_set("k", failing))
    assert results == [] and calls == 1
    assert len(errors) == THREADS and all(isinstance(e, LookupError) for e in errors)
    assert cache.stats()["origin_errors"] == 1
    assert cache.get_or_set("k", lambda: "recovered") == "recovered"


def test_different_keys_do_not_wait_for_each_other() -> None:
    cache = orc.Cache()
    inside = threading.Event()
    release = threading.Event()

    def slow() -> str:
        inside.set()
        release.wait(10)
        return "slow"

    thread = threading.Thread(target=lambda: cache.get_or_set("slow", slow))
    thread.start()
    assert inside.wait(10)
    assert cache.get_or_set("fast", lambda: "fast") == "fast"
    release.set()
    thread.join()
    assert cache.get("slow") == "slow"


def test_async_tasks_single_flight() -> None:
    asyncio.run(_async_tasks_single_flight())


async def _async_tasks_single_flight() -> None:
    calls = 0
    release = asyncio.Event()

    @orc.cached(ttl=60)
    async def fetch(key: str) -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return key.upper()

    tasks = [asyncio.create_task(fetch("a")) for _ in range(THREADS)]
    while fetch.cache.stats()["flight_waits"] < THREADS - 1:  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*tasks) == ["A"] * THREADS
    assert calls == 1
    assert await fetch("a") == "A"
    assert calls == 1


def test_async_waiters_take_over_when_the_leader_is_cancelled() -> None:
    asyncio.run(_async_waiters_take_over_when_the_leader_is_cancelled())


async def _async_waiters_take_over_when_the_leader_is_cancelled() -> None:
    calls = 0
    first_inside = asyncio.Event()

    @orc.cached(ttl=60)
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            first_inside.set()
            await asyncio.Event().wait()  # the first leader never finishes on its own
        return "second"

    leader = asyncio.create_task(fetch())
    await first_inside.wait()
    waiters = [asyncio.create_task(fetch()) for _ in range(4)]
    while fetch.cache.stats()["flight_waits"] < 4:  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    leader.cancel()
    assert await asyncio.gather(*waiters) == ["second"] * 4
    assert calls == 2
    with pytest.raises(asyncio.CancelledError):
        await leader


def test_async_origin_error_reaches_waiters() -> None:
    asyncio.run(_async_origin_error_reaches_waiters())


async def _async_origin_error_reaches_waiters() -> None:
    release = asyncio.Event()

    @orc.cached
    async def broken() -> str:
        await release.wait()
        raise KeyError("nope")

    tasks = [asyncio.create_task(broken()) for _ in range(5)]
    while broken.cache.stats()["flight_waits"] < 4:  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, KeyError) for o in outcomes)
    assert broken.cache.stats()["origin_calls"] == 1  # type: ignore[attr-defined]


def test_async_cache_survives_a_new_event_loop_per_invocation() -> None:
    """Handlers often call asyncio.run per invocation; flights must not leak across loops."""
    now = [0.0]
    cache = orc.Cache(ttl=1, clock=lambda: now[0])

    @orc.cached(cache=cache)
    async def fetch() -> float:
        await asyncio.sleep(0)
        return now[0]

    assert asyncio.run(fetch()) == 0.0
    assert asyncio.run(fetch()) == 0.0
    now[0] = 5.0
    assert asyncio.run(fetch()) == 5.0
    assert cache.stats()["origin_calls"] == 2
