"""Process-wide view of every live cache, for whoever wants to export it.

The keepwarm Python runtime calls :func:`snapshot_all` after each invocation, but only when
``keepwarm.orc`` is already in ``sys.modules``, so handler code that never uses orc pays nothing.
On real AWS Lambda nobody calls it. The registry holds weak references, so registering a cache
never keeps it alive: a cache that handler code drops disappears from the snapshot.

The environment's age is measured from the first import of orc *in this process*, reset in a
forked child, because an environment forked from a pre-imported template is a new environment.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Protocol

StatsDict = dict[str, float | int]


class _Reports(Protocol):
    @property
    def name(self) -> str: ...

    def stats(self) -> StatsDict: ...


_born = time.monotonic()
_lock = threading.Lock()
_live: weakref.WeakKeyDictionary[_Reports, int] = weakref.WeakKeyDictionary()
_seq = 0


def _after_fork_in_child() -> None:
    global _born, _lock
    _born = time.monotonic()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def env_age() -> float:
    """Seconds this environment (this process) has been alive, as far as orc can tell."""
    return time.monotonic() - _born


def register(cache: _Reports) -> None:
    global _seq
    with _lock:
        _seq += 1
        _live[cache] = _seq


def snapshot_all() -> dict[str, StatsDict]:
    """Stats of every live cache, keyed by name; duplicate names get a ``#2``, ``#3`` suffix.

    Names may repeat on purpose (two caches in front of the same shared namespace), so the
    snapshot disambiguates instead of refusing them at construction.
    """
    with _lock:
        caches = sorted(_live.items(), key=lambda item: item[1])
    out: dict[str, StatsDict] = {}
    for cache, _ in caches:
        name, n = cache.name, 1
        while name in out:
            n += 1
            name = f"{cache.name}#{n}"
        out[name] = cache.stats()
    return out
