"""What the one caller leading a flight does: shared tier, then origin, then store, then release.

Only a miss or a stale hit gets here, never a fresh hit, so this lives apart from the cache's
bookkeeping and runs without its lock held (taking it briefly, to count). Every way out, errors
and cancellation included, ends the flight, or its waiters would wait for ever. A stale hit
leads in the background: the caller gets the stale value now, and on Lambda the refresh may
finish during the next invocation.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from keepwarm.orc import _log
from keepwarm.orc._flight import AsyncFlight, Flight
from keepwarm.orc._policy import MISSING, Policy

if TYPE_CHECKING:
    from keepwarm.orc.cache import Cache

T = TypeVar("T")


def lead(
    cache: Cache, key: Hashable, flight: Flight, factory: Callable[[], T], policy: Policy
) -> T:
    try:
        value = cache._read_shared(key, policy.stale_ttl)
        if value is MISSING:
            value = _call_origin(cache, factory)
            cache.set(key, value, *policy.for_value(value))
    except BaseException as exc:
        _end_flight(cache, cache._flights, key, flight)
        flight.fail(exc)
        raise
    _end_flight(cache, cache._flights, key, flight)
    flight.resolve(value)
    return value  # type: ignore[no-any-return]


async def alead(
    cache: Cache,
    key: Hashable,
    flight: AsyncFlight,
    factory: Callable[[], Awaitable[T]],
    policy: Policy,
) -> T:
    try:
        value = cache._read_shared(key, policy.stale_ttl)
        if value is MISSING:
            value = await _acall_origin(cache, factory)
            cache.set(key, value, *policy.for_value(value))
    except BaseException as exc:
        _end_flight(cache, cache._aflights, key, flight)
        flight.fail(exc)
        raise
    _end_flight(cache, cache._aflights, key, flight)
    flight.resolve(value)
    return value  # type: ignore[no-any-return]


def refresh_in_thread(
    cache: Cache, key: Hashable, flight: Flight, factory: Callable[[], T], policy: Policy
) -> None:
    def refresh() -> None:
        try:
            lead(cache, key, flight, factory, policy)
        except Exception as exc:
            _log.warn("orc %s: background refresh of %r failed: %r", cache.name, key, exc)

    threading.Thread(target=refresh, name=f"orc-refresh-{cache.name}", daemon=True).start()


def refresh_in_task(
    cache: Cache,
    key: Hashable,
    flight: AsyncFlight,
    factory: Callable[[], Awaitable[T]],
    policy: Policy,
) -> None:
    async def refresh() -> None:
        try:
            await alead(cache, key, flight, factory, policy)
        except Exception as exc:
            _log.warn("orc %s: background refresh of %r failed: %r", cache.name, key, exc)

    import asyncio

    task = asyncio.get_running_loop().create_task(refresh())
    cache._background.add(task)
    task.add_done_callback(cache._background.discard)


def _call_origin(cache: Cache, factory: Callable[[], T]) -> T:
    with cache._lock:
        cache._n["origin_calls"] += 1
    try:
        return factory()
    except BaseException:
        with cache._lock:
            cache._n["origin_errors"] += 1
        raise


async def _acall_origin(cache: Cache, factory: Callable[[], Awaitable[T]]) -> T:
    with cache._lock:
        cache._n["origin_calls"] += 1
    try:
        return await factory()
    except BaseException:
        with cache._lock:
            cache._n["origin_errors"] += 1
        raise


def _end_flight(cache: Cache, table: dict[Hashable, Any], key: Hashable, flight: object) -> None:
    with cache._lock:
        if table.get(key) is flight:
            del table[key]
