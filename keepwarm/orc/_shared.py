"""The optional shared tier (Redis): a second chance before the origin, never a new way to fail.

Each call is bounded by short socket timeouts and no client-side retries. After a failure the
tier is skipped entirely (the circuit is open) for a backoff that doubles up to a ceiling; then a
single probe is let through, and its success closes the circuit. So a Redis outage costs the
handler at most one timeout per backoff period, and recovery needs no restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from keepwarm.orc import _log
from keepwarm.orc._codec import Codec, DecodeRefused

_clients: dict[tuple[str, float], Any] = {}
_clients_lock = threading.Lock()
# ':' ends the name segment, '%' is the escape itself, the rest are Redis glob characters.
_NAME_ESCAPES = str.maketrans({c: f"%{ord(c):02X}" for c in "%:*?[]\\"})


def _client(url: str, timeout: float) -> Any:
    """One client (and connection pool) per URL per process, shared by every cache using it."""
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as exc:
        raise ImportError(
            "Cache(shared=...) needs redis-py: pip install 'keepwarm[redis]'"
        ) from exc
    with _clients_lock:
        client = _clients.get((url, timeout))
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
            _clients[(url, timeout)] = client
        return client


def namespace_for(name: str) -> str:
    """``orc:<name>`` with the name percent-escaped, so that the segment holds no ``:``.

    Then every key parses back to exactly one (name, key) pair, and ``orc:<name>:*`` is a
    literal prefix that matches no other cache's keys. Plain names (``users``, ``app.get_user``)
    are unchanged and stay readable in redis-cli.
    """
    return "orc:" + name.translate(_NAME_ESCAPES)


def redis_key(namespace: str, key: Hashable) -> str:
    """Keys must mean the same thing in every environment, so only plain data is accepted."""
    if isinstance(key, str):
        return f"{namespace}:s:{key}"
    try:
        return f"{namespace}:j:{json.dumps(key, separators=(',', ':'))}"
    except TypeError:
        raise TypeError(
            f"a shared cache needs str or JSON-able keys, got {type(key).__name__}"
        ) from None


class Breaker:
    """Open after a failure, half-open (one probe) after the backoff, closed after a success."""

    def __init__(self, clock: Callable[[], float], base: float, ceiling: float, probe: float):
        self._clock, self._base, self._ceiling, self._probe = clock, base, ceiling, probe
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0

    def allow(self) -> bool:
        if self._failures == 0:
            return True
        with self._lock:
            now = self._clock()
            if now < self._open_until:
                return False
            self._open_until = now + self._probe
            return True

    def succeeded(self) -> None:
        if self._failures:
            with self._lock:
                self._failures = 0
                self._open_until = 0.0

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            backoff = min(self._base * 2 ** (self._failures - 1), self._ceiling)
            self._open_until = self._clock() + backoff

    @property
    def is_open(self) -> bool:
        return self._failures > 0


class SharedTier:
    """Values in and out of Redis; every error is swallowed, counted and opens the circuit.

    Expiry is absolute wall-clock time inside the stored entry (environments share no monotonic
    clock) and is also given to Redis as PX, so Redis drops the entry at the same moment.
    """

    def __init__(
        self,
        url: str,
        name: str,
        codec: Codec,
        clock: Callable[[], float],
        timeout: float,
        backoff: tuple[float, float],
    ) -> None:
        self._redis = _client(url, timeout)
        self._codec = codec
        self.namespace = namespace_for(name)
        self.encode_errors = 0
        self.breaker = Breaker(clock, backoff[0], backoff[1], probe=max(timeout * 4, 0.2))
        self.errors = 0
        self.skipped = 0
        self._count_lock = threading.Lock()
        self._warned = False

    def read(self, key: Hashable) -> tuple[Any, float | None] | None:
        """``(value, seconds left or None for no expiry)``, or None for a miss of any kind."""
        raw = self._get(redis_key(self.namespace, key))
        if raw is None:
            return None
        try:
            value, expires_ms = self._codec.loads(raw)
        except (DecodeRefused, ValueError) as exc:
            _log.warn("orc %s: unreadable shared entry for %r: %s", self.namespace, key, exc)
            return None
        if expires_ms == 0:
            return value, None
        remaining = expires_ms / 1000 - time.time()
        return (value, remaining) if remaining > 0 else None

    def write(self, key: Hashable, value: Any, ttl: float | None) -> None:
        rkey = redis_key(self.namespace, key)
        expires_ms = 0 if ttl is None else int((time.time() + ttl) * 1000)
        try:
            raw = self._codec.dumps(value, expires_ms)
        except (TypeError, ValueError, OverflowError) as exc:
            with self._count_lock:
                self.encode_errors += 1
            _log.warn("orc %s: %r kept in L1 only, not serialisable: %s", self.namespace, key, exc)
            return
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._call("SET", lambda: self._redis.set(rkey, raw, px=px))

    def delete(self, key: Hashable) -> None:
        rkey = redis_key(self.namespace, key)
        self._call("DEL", lambda: self._redis.delete(rkey))

    def _get(self, key: str) -> bytes | None:
        if not self.breaker.allow():
            self._skip()
            return None
        try:
            raw: bytes | None = self._redis.get(key)
        except Exception as exc:
            self._fail("GET", exc)
            return None
        self._succeed()
        return raw

    def clear(self) -> None:
        """Only this cache's keys: with the name escaped, the final ``*`` is the one glob."""

        def scan_and_delete() -> None:
            batch: list[bytes] = []
            for key in self._redis.scan_iter(match=f"{self.namespace}:*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    self._redis.unlink(*batch)
                    batch.clear()
            if batch:
                self._redis.unlink(*batch)

        self._call("SCAN/UNLINK", scan_and_delete)

    def _call(self, what: str, op: Callable[[], object]) -> None:
        if not self.breaker.allow():
            self._skip()
            return
        try:
            op()
        except Exception as exc:
            self._fail(what, exc)
            return
        self._succeed()

    def _skip(self) -> None:
        with self._count_lock:
            self.skipped += 1

    def _succeed(self) -> None:
        if self.breaker.is_open:
            _log.info("orc shared tier %s reachable again", self.namespace)
            self._warned = False
            self.breaker.succeeded()

    def _fail(self, what: str, exc: Exception) -> None:
        with self._count_lock:
            self.errors += 1
        self.breaker.failed()
        if not self._warned:
            self._warned = True
            _log.warn("orc shared tier %s failed (%s); serving from L1 + origin", what, exc)
