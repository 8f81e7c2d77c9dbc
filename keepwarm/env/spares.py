"""Spare environment processes, forked and moved into a cgroup of their own ahead of demand.

Why: on cgroup v1, moving a process into a cgroup (a write to ``cgroup.procs``) waits for an
RCU grace period: 0.4 ms at the median on an idle 2-vCPU VM, 10 ms at p90, up to 16 ms, which
was most of a cold start's time. A spare pays that wait while nothing is waiting for it; a cold
start takes the spare, sets its cgroup's memory limit (a plain write) and hands it the
environment's spec. The spare has run nothing of the function's yet: it has only joined its
cgroup, so what it then does (namespaces, limits, the user drop, Init) is what a fresh fork
does, and semantics do not change.

Only for environments the fork server forks itself: a snapshot template forks its own.
"""

from __future__ import annotations

import asyncio
import secrets

from keepwarm.env.cgroup import MAX_PIDS, CgroupManager, EnvCgroup
from keepwarm.env.launcher import ForkServer

SPARES = 2  # cold starts often come in short bursts; each takes one, one is made
_SPARE_MB = 128  # until it is taken: Lambda's smallest MemorySize


class SparePool:
    def __init__(self, cgroups: CgroupManager, launcher: ForkServer) -> None:
        self._cgroups = cgroups
        self._launcher = launcher
        self._ready: list[tuple[str, EnvCgroup, int]] = []  # name, cgroup, pid
        self._making: set[asyncio.Task[None]] = set()

    def fill(self) -> None:
        """Start making spares up to ``SPARES``, in the background."""
        while len(self._ready) + len(self._making) < SPARES:
            task = asyncio.ensure_future(self._make())
            self._making.add(task)
            task.add_done_callback(self._making.discard)

    def take(self, memory_mb: int) -> tuple[str, EnvCgroup] | None:
        """A ready spare, its cgroup limited to ``memory_mb``; None when none is ready. Either
        way another is started, so that the pool is full again soon."""
        try:
            while self._ready:
                name, cgroup, _pid = self._ready.pop()
                try:
                    self._cgroups.limit(cgroup, memory_mb, MAX_PIDS)
                except OSError:
                    cgroup.kill_all()
                    cgroup.remove()
                    continue
                return name, cgroup
            return None
        finally:
            self.fill()

    @property
    def pids(self) -> set[int]:
        """The spare processes waiting now (they are the fork server's children too)."""
        return {pid for _name, _cgroup, pid in self._ready}

    async def close(self) -> None:
        for task in list(self._making):
            task.cancel()
        await asyncio.gather(*self._making, return_exceptions=True)

    async def _make(self) -> None:
        name = f"spare-{secrets.token_hex(8)}"
        cgroup = self._cgroups.create(name, _SPARE_MB, MAX_PIDS)
        try:
            pid = await self._launcher.spare(name, cgroup.procs_files)
        except BaseException as exc:
            cgroup.kill_all()
            cgroup.remove()
            if isinstance(exc, asyncio.CancelledError):
                raise
            return  # the fork server died or refused: cold starts fork and join as before
        self._ready.append((name, cgroup, pid))
