"""What a cache keeps and for how long, separated from how it keeps it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

_FALLBACK_MEMORY_MB = 128
UNSET: Any = object()
MISSING: Any = object()  # found neither in L1 nor in the shared tier


def default_max_bytes() -> int:
    """10 % of the function's memory; Lambda's default 128 MB when not running under Lambda."""
    try:
        memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""))
    except ValueError:
        memory_mb = _FALLBACK_MEMORY_MB
    if memory_mb <= 0:
        memory_mb = _FALLBACK_MEMORY_MB
    return memory_mb * 1024 * 1024 // 10


def is_none(value: object) -> bool:
    return value is None


def check_seconds(**durations: float | None) -> None:
    """Refuse at construction what would fail, or silently misbehave, at the first ``set``: a
    string (``ttl="60"``), a negative duration, and NaN, which every comparison treats as false
    (an entry kept for NaN seconds is stored and can never be read back)."""
    for name, value in durations.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number of seconds or None, not {value!r}")
        if value != value:
            raise ValueError(f"{name} must be a number of seconds or None, not NaN")
        if value < 0:
            raise ValueError(f"{name} must be >= 0 seconds, not {value!r}")


def check_options(
    max_items: object, max_bytes: object, name: object, shared: object, negative: object
) -> None:
    """The other constructor arguments, checked for the same reason."""
    for label, value in (("max_items", max_items), ("max_bytes", max_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{label} must be a whole number or None, not {value!r}")
        if isinstance(value, int) and value < 0:
            raise ValueError(f"{label} must be >= 0, not {value}")
    for label, value in (("name", name), ("shared", shared)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{label} must be a string or None, not {value!r}")
    if negative is not None and not callable(negative):
        raise TypeError(f"negative must be a function of the value (-> bool), not {negative!r}")


class Policy:
    """How a loaded value is kept: built once per decorator, not once per call."""

    __slots__ = ("negative", "negative_ttl", "stale_ttl", "ttl")

    def __init__(
        self,
        ttl: float | None = None,
        stale_ttl: float = 0.0,
        negative_ttl: float | None = None,
        negative: Callable[[Any], bool] = is_none,
    ) -> None:
        check_seconds(ttl=ttl, stale_ttl=stale_ttl, negative_ttl=negative_ttl)
        self.ttl = ttl
        self.stale_ttl = stale_ttl
        self.negative_ttl = negative_ttl
        self.negative = negative

    def for_value(self, value: object) -> tuple[float | None, float]:
        if self.negative_ttl is not None and self.negative(value):
            return self.negative_ttl, 0.0
        return self.ttl, self.stale_ttl


class Entry:
    __slots__ = ("expires", "size", "stale_until", "value")

    def __init__(self, value: Any, expires: float, stale_until: float, size: int) -> None:
        self.value = value
        self.expires = expires
        self.stale_until = stale_until
        self.size = size
