"""The memory limit without cgroups: watch an environment's RSS while it works.

Why only while busy: an idle environment cannot grow, and polling hundreds of idle processes
would cost the whole server. The watch is coarse (every 50 ms) — a cgroup is exact, this is the
fallback when none is writable.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

PERIOD_S = 0.05


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class RssWatch:
    """Calls ``on_exceeded`` once if ``pid`` grows past ``limit`` bytes; tracks the peak."""

    def __init__(self, pid: int, limit: int, on_exceeded: Callable[[], None]) -> None:
        self.pid = pid
        self.limit = limit
        self.peak = 0
        self._on_exceeded = on_exceeded
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(PERIOD_S, self._check)

    def _check(self) -> None:
        rss = rss_bytes(self.pid)
        self.peak = max(self.peak, rss)
        if rss > self.limit:
            self._timer = None
            self._on_exceeded()
            return
        self._timer = self._loop.call_later(PERIOD_S, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
