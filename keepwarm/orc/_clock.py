"""The smallest clock protocol that lets tests move time: orc must not import keepwarm.clock.

Anything with a ``monotonic()`` method (keepwarm's FakeClock included) or any zero-argument
callable returning seconds will do; both are reduced to a plain callable once, at construction,
so a cache hit pays one call and no attribute look-ups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class MonotonicClock(Protocol):
    def monotonic(self) -> float: ...


ClockLike = MonotonicClock | Callable[[], float]


def as_callable(clock: ClockLike | None) -> Callable[[], float]:
    if clock is None:
        return time.monotonic
    if isinstance(clock, MonotonicClock):
        return clock.monotonic
    if callable(clock):
        return clock
    raise TypeError(f"clock must be callable or have monotonic(), got {type(clock).__name__}")
