"""The per-environment cache: bounded, expiring, single-flight, optionally backed by Redis.

Handler code keeps caches in module globals because Lambda reuses environments. This class makes
that habit safe: memory is bounded by an estimate in bytes (10 % of the function's memory unless
told otherwise) as well as by item count; entries expire; a burst of callers missing the same key
costs one origin call; and every outcome is counted, so "how reliable is my cache?" has numbers.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from keepwarm.orc import stats as _registry
from keepwarm.orc._clock import ClockLike, as_callable
from keepwarm.orc._flight import LEADER_GONE, AsyncFlight, Flight
from keepwarm.orc._leader import alead, lead, refresh_in_task, refresh_in_thread
from keepwarm.orc._policy import (
    MISSING,
    UNSET,
    Entry,
    Policy,
    check_options,
    check_seconds,
    default_max_bytes,
)
from keepwarm.orc._size import estimate

if TYPE_CHECKING:
    import asyncio

    from keepwarm.orc._shared import SharedTier

T = TypeVar("T")

_INF = float("inf")
_ENTRY_OVERHEAD = 160
_counter = 0
_COUNTERS = (
    "hits",
    "misses",
    "stale_hits",
    "flight_waits",
    "origin_calls",
    "origin_errors",
    "evictions",
    "expirations",
    "rejected",
    "shared_hits",
    "shared_misses",
)


def _site_name() -> str:
    global _counter
    _counter += 1
    try:
        frame = sys._getframe(2)
    except ValueError:
        return f"cache-{_counter}"
    return f"{frame.f_globals.get('__name__', '?')}:{frame.f_lineno}"


def _shared_tier(
    url: str,
    name: str,
    clock: Callable[[], float],
    serializer: str,
    allow_pickle: bool,
    timeout: float,
    backoff: tuple[float, float],
) -> SharedTier:
    """Imported here so that caches without a shared tier never load json, struct or redis."""
    from keepwarm.orc._codec import Codec
    from keepwarm.orc._shared import SharedTier

    return SharedTier(url, name, Codec(serializer, allow_pickle), clock, timeout, backoff)


class Cache:
    """A cache that lives exactly as long as its environment, and says so in its stats."""

    def __init__(
        self,
        ttl: float | None = None,
        max_items: int | None = None,
        max_bytes: int | None = None,
        *,
        name: str | None = None,
        clock: ClockLike | None = None,
        stale_ttl: float = 0.0,
        negative_ttl: float | None = None,
        shared: str | None = None,
        serializer: str = "auto",
        allow_pickle: bool = False,
        shared_timeout: float = 0.05,
        shared_backoff: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        check_options(max_items, max_bytes, name, shared, None)
        self.name = name or _site_name()
        self.policy = Policy(ttl, stale_ttl, negative_ttl)
        self.max_items = max_items
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self._clock = as_callable(clock)
        self._lock = threading.Lock()
        self._data: OrderedDict[Hashable, Entry] = OrderedDict()
        self._bytes = 0
        self._flights: dict[Hashable, Flight] = {}
        self._aflights: dict[Hashable, AsyncFlight] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._n = dict.fromkeys(_COUNTERS, 0)
        self._shared: SharedTier | None = None
        if shared:
            options = (serializer, allow_pickle, shared_timeout, shared_backoff)
            self._shared = _shared_tier(shared, self.name, self._clock, *options)
        _registry.register(self)

    def __repr__(self) -> str:
        return f"<orc.Cache {self.name!r} items={len(self._data)} bytes={self._bytes}>"

    def __len__(self) -> int:
        return len(self._data)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, key: Hashable, default: Any = None) -> Any:
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and now < entry.expires:
                self._data.move_to_end(key)
                self._n["hits"] += 1
                return entry.value
            self._drop_if_dead(key, entry, now)
            self._n["misses"] += 1
        value = self._read_shared(key, self.policy.stale_ttl)
        return default if value is MISSING else value

    def get_or_set(
        self,
        key: Hashable,
        factory: Callable[[], T],
        ttl: float | None = UNSET,
        *,
        stale_ttl: float | None = None,
        negative_ttl: float | None = UNSET,
        negative: Callable[[Any], bool] | None = None,
    ) -> T:
        """Return the cached value or load it once, however many threads ask at the same time."""
        return self.load(key, factory, self.policy_for(ttl, stale_ttl, negative_ttl, negative))

    async def aget_or_set(
        self,
        key: Hashable,
        factory: Callable[[], Awaitable[T]],
        ttl: float | None = UNSET,
        *,
        stale_ttl: float | None = None,
        negative_ttl: float | None = UNSET,
        negative: Callable[[Any], bool] | None = None,
    ) -> T:
        """The asyncio twin of :meth:`get_or_set`: single-flight across tasks of one loop."""
        policy = self.policy_for(ttl, stale_ttl, negative_ttl, negative)
        return await self.aload(key, factory, policy)

    def policy_for(
        self,
        ttl: float | None,
        stale_ttl: float | None,
        negative_ttl: float | None,
        negative: Callable[[Any], bool] | None,
    ) -> Policy:
        check_options(None, None, None, None, negative)
        base = self.policy
        return Policy(
            base.ttl if ttl is UNSET else ttl,
            base.stale_ttl if stale_ttl is None else stale_ttl,
            base.negative_ttl if negative_ttl is UNSET else negative_ttl,
            negative or base.negative,
        )

    def _fresh(self, key: Hashable, now: float) -> tuple[Any, Any]:
        """(value, entry) on a fresh hit, counted; else (MISSING, entry). Lock held."""
        entry = self._data.get(key)
        if entry is not None and now < entry.expires:
            self._data.move_to_end(key)
            self._n["hits"] += 1
            return entry.value, entry
        return MISSING, entry

    def load(self, key: Hashable, factory: Callable[[], T], policy: Policy) -> T:
        now = self._clock()
        with self._lock:
            value, entry = self._fresh(key, now)
            if value is not MISSING:
                return value  # type: ignore[no-any-return]
            stale, flight, leader = self._join(key, entry, now, self._flights, Flight)
        if stale is not MISSING:
            if leader:
                refresh_in_thread(self, key, flight, factory, policy)
            return stale  # type: ignore[no-any-return]
        if leader:
            return lead(self, key, flight, factory, policy)
        return flight.wait()  # type: ignore[no-any-return]

    async def aload(self, key: Hashable, factory: Callable[[], Awaitable[T]], policy: Policy) -> T:
        while True:
            now = self._clock()
            with self._lock:
                value, entry = self._fresh(key, now)
                if value is not MISSING:
                    return value  # type: ignore[no-any-return]
                stale, flight, leader = self._join(key, entry, now, self._aflights, AsyncFlight)
            if stale is not MISSING:
                if leader:
                    refresh_in_task(self, key, flight, factory, policy)
                return stale  # type: ignore[no-any-return]
            if leader:
                return await alead(self, key, flight, factory, policy)
            value = await flight.wait()
            if value is not LEADER_GONE:
                return value  # type: ignore[no-any-return]

    def _join(
        self,
        key: Hashable,
        entry: Entry | None,
        now: float,
        flights: dict[Hashable, Any],
        make: Callable[[], Any],
    ) -> tuple[Any, Any, bool]:
        """Lock held, after a miss: the stale value (if servable), this key's flight, and whether
        this caller leads it (a new flight when none is usable). Kept off the hit path."""
        stale = self._stale_value(key, entry, now)
        flight = flights.get(key)
        leader = flight is None or not flight.usable()
        if leader:
            flight = flights[key] = make()
        self._count_miss(stale, leader)
        return stale, flight, leader

    def _count_miss(self, stale: Any, leader: bool) -> None:
        if stale is MISSING:
            self._n["misses"] += 1
            if not leader:
                self._n["flight_waits"] += 1

    def _stale_value(self, key: Hashable, entry: Entry | None, now: float) -> Any:
        """Under the lock: the stale value if it may still be served, else drop it if dead."""
        if entry is not None and now < entry.stale_until:
            self._n["stale_hits"] += 1
            return entry.value
        self._drop_if_dead(key, entry, now)
        return MISSING

    def _drop_if_dead(self, key: Hashable, entry: Entry | None, now: float) -> None:
        if entry is not None and now >= entry.stale_until:
            del self._data[key]
            self._bytes -= entry.size
            self._n["expirations"] += 1

    # -- writes --------------------------------------------------------------------------------

    def set(
        self, key: Hashable, value: Any, ttl: float | None = UNSET, stale_ttl: float | None = None
    ) -> None:
        """Store in this environment and, write-through, in the shared tier."""
        ttl = self.policy.ttl if ttl is UNSET else ttl
        stale_ttl = self.policy.stale_ttl if stale_ttl is None else stale_ttl
        check_seconds(ttl=ttl, stale_ttl=stale_ttl)
        if ttl is not None and ttl <= 0:
            return
        self._store(key, value, ttl, stale_ttl)
        if self._shared is not None:
            self._shared.write(key, value, ttl)

    def delete(self, key: Hashable) -> bool:
        """Forget ``key`` here and in the shared tier; True if this environment held it."""
        with self._lock:
            entry = self._data.pop(key, None)
            if entry is not None:
                self._bytes -= entry.size
        if self._shared is not None:
            self._shared.delete(key)
        return entry is not None

    def clear(self, shared: bool = False) -> None:
        """Empty this environment's L1; the shared tier only if asked, as it is everyone's."""
        with self._lock:
            self._data.clear()
            self._bytes = 0
        if shared and self._shared is not None:
            self._shared.clear()

    def expire(self) -> int:
        """Drop every entry past its stale window now, rather than lazily; returns how many."""
        now = self._clock()
        with self._lock:
            dead = [k for k, e in self._data.items() if now >= e.stale_until]
            for key in dead:
                self._bytes -= self._data.pop(key).size
            self._n["expirations"] += len(dead)
        return len(dead)

    def _store(self, key: Hashable, value: Any, ttl: float | None, stale_ttl: float) -> None:
        if self.max_items == 0:
            return
        size = _ENTRY_OVERHEAD + estimate(key) + estimate(value)
        now = self._clock()
        expires = _INF if ttl is None else now + ttl
        entry = Entry(value, expires, expires + stale_ttl, size)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            if size > self.max_bytes:
                self._n["rejected"] += 1
                return
            self._data[key] = entry
            self._bytes += size
            self._evict()

    def _evict(self) -> None:
        max_items = _INF if self.max_items is None else self.max_items
        while self._bytes > self.max_bytes or len(self._data) > max_items:
            _, entry = self._data.popitem(last=False)
            self._bytes -= entry.size
            self._n["evictions"] += 1

    # -- shared tier ---------------------------------------------------------------------------

    def _read_shared(self, key: Hashable, stale_ttl: float) -> Any:
        if self._shared is None:
            return MISSING
        found = self._shared.read(key)
        with self._lock:
            self._n["shared_misses" if found is None else "shared_hits"] += 1
        if found is None:
            return MISSING
        value, remaining = found
        self._store(key, value, remaining, stale_ttl)
        return value

    # -- numbers -------------------------------------------------------------------------------

    def stats(self) -> dict[str, float | int]:
        """Counters since creation plus current size; cheap enough to call after every request."""
        with self._lock:
            out: dict[str, float | int] = dict(self._n)
            out["items"] = len(self._data)
            out["bytes"] = self._bytes
        lookups = out["hits"] + out["stale_hits"] + out["misses"]
        out["hit_ratio"] = (out["hits"] + out["stale_hits"]) / lookups if lookups else 0.0
        out["max_bytes"] = self.max_bytes
        out["max_items"] = -1 if self.max_items is None else self.max_items
        shared = self._shared
        out["shared_errors"] = shared.errors if shared else 0
        out["shared_skipped"] = shared.skipped if shared else 0
        out["shared_circuit_open"] = int(shared.breaker.is_open) if shared else 0
        out["encode_errors"] = shared.encode_errors if shared else 0
        out["env_age_s"] = _registry.env_age()
        return out
