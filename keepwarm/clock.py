"""Injected time, so that keep-alive, lifetime and timeouts can be tested without sleeping.

``monotonic()`` drives every policy decision; ``time()`` only stamps logs and deadlines that a
runtime sees (Lambda's Deadline-Ms is wall-clock epoch milliseconds).
"""

from __future__ import annotations

import threading
import time as _time
from typing import Protocol

# Seconds per unit of the lengths of time commands take (``--since 10m``, ``--for 1d``).
TIME_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return _time.monotonic()

    def time(self) -> float:
        return _time.time()


class FakeClock:
    """A clock that moves only when told; for tests and the simulator."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall - start
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
