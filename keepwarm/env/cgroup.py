"""Per-environment cgroups: the memory limit, the real memory peak, OOM detection, kill-all.

Why cgroups: an rlimit cannot express "this environment and its children may use N MB", and
only the kernel knows whether a SIGKILL was an out-of-memory kill. Works with the v1 memory
(and pids) hierarchy or with cgroup v2; when neither is writable, ``CgroupManager.detect``
returns None and the caller falls back to watching RSS.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keepwarm.env import owner

ROOT = Path("/sys/fs/cgroup")
MAX_PIDS = 1024  # per environment: Lambda's limit (the runtime plus 1,023 processes)


def _own_path(controller: str) -> str | None:
    """This process's cgroup path for a v1 controller ('' for v2's unified line)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and controllers == ""):
            return path
    return None


def _writable_dir(path: Path) -> bool:
    probe = path / f"keepwarm-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


@dataclass
class EnvCgroup:
    """The cgroup directories of one environment (one per hierarchy)."""

    memory: Path
    pids: Path | None
    v2: bool

    @property
    def procs_files(self) -> list[str]:
        dirs = [self.memory] + ([self.pids] if self.pids else [])
        return [str(d / "cgroup.procs") for d in dirs]

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.memory / name).read_text())
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            text = (self.memory / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def pids_inside(self) -> list[int]:
        try:
            return [int(p) for p in (self.memory / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for pid in self.pids_inside():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        for d in (self.memory, self.pids):
            if d is not None:
                with contextlib.suppress(OSError):
                    d.rmdir()


class CgroupManager:
    """Creates and removes environment cgroups under one directory owned by this server."""

    def __init__(self, memory_base: Path, pids_base: Path | None, v2: bool) -> None:
        self.memory_base = memory_base
        self.pids_base = pids_base
        self.v2 = v2

    @classmethod
    def detect(cls, tag: str) -> CgroupManager | None:
        unified = ROOT / "cgroup.controllers"
        if unified.exists() and "memory" in unified.read_text().split():
            base = ROOT / (_own_path("") or "/").lstrip("/")
            if _writable_dir(base):
                return cls(base / tag, None, True)
        mem = _own_path("memory")
        if mem is None or not (ROOT / "memory").is_dir():
            return None
        mem_base = ROOT / "memory" / mem.lstrip("/")
        if not _writable_dir(mem_base):
            return None
        pids = _own_path("pids")
        pids_base = ROOT / "pids" / pids.lstrip("/") if pids is not None else None
        if pids_base is not None and not _writable_dir(pids_base):
            pids_base = None
        return cls(mem_base / tag, pids_base / tag if pids_base else None, False)

    def create(self, env_id: str, memory_mb: int, max_pids: int) -> EnvCgroup:
        mem = self.memory_base / env_id
        mem.mkdir(parents=True, exist_ok=True)
        pids = None
        if not self.v2 and self.pids_base is not None:
            pids = self.pids_base / env_id
            pids.mkdir(parents=True, exist_ok=True)
        cgroup = EnvCgroup(mem, pids, self.v2)
        self.limit(cgroup, memory_mb, max_pids)
        return cgroup

    def limit(self, cgroup: EnvCgroup, memory_mb: int, max_pids: int) -> None:
        """Set (or change: a spare's, when it is taken) the environment's limits."""
        limit = str(memory_mb * 1024 * 1024)
        mem = cgroup.memory
        if self.v2:
            (mem / "memory.max").write_text(limit)
            with contextlib.suppress(OSError):
                (mem / "memory.swap.max").write_text("0")
            with contextlib.suppress(OSError):
                (mem / "pids.max").write_text(str(max_pids))
            return
        # v1 wants memsw >= limit at every step: raising moves memsw first, lowering after.
        with contextlib.suppress(OSError):
            (mem / "memory.memsw.limit_in_bytes").write_text(limit)
        (mem / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(OSError):
            (mem / "memory.memsw.limit_in_bytes").write_text(limit)
        if cgroup.pids is not None:
            (cgroup.pids / "pids.max").write_text(str(max_pids))

    def sweep(self) -> int:
        """Remove what dead servers left next to this one's directory (see ``sweep_stale``)."""
        parents = [b.parent for b in (self.memory_base, self.pids_base) if b is not None]
        return sweep_stale(parents, self.v2)

    def cleanup(self, patience_s: float = 5.0) -> None:
        """Kill what is left in this server's cgroups and remove them all."""
        _remove_trees([self.memory_base, self.pids_base], self.v2, patience_s)


def sweep_stale(parents: list[Path], v2: bool, patience_s: float = 2.0) -> int:
    """Remove the cgroups of keepwarm servers that ended without cleaning up (SIGKILL, crash).

    Each left-behind cgroup holds kernel memory (about 200 KB for a v1 memory cgroup, measured:
    47,000 of them held 9.6 GB of unreclaimable slab) until someone removes it; nobody else
    will. Processes still inside (an environment's child that outlived its server) are killed.
    Directories named by older keepwarm versions (``keepwarm-<pid>``) are only removed when
    empty. Returns how many server directories were removed.
    """
    names = {d.name for parent in parents for d in owner.subdirs(parent)}
    dead = [n for n in names if owner.gone(n)]
    _remove_trees([p / n for p in parents for n in dead if owner.TAG.fullmatch(n)], v2, patience_s)
    _remove_trees(
        [p / n for p in parents for n in dead if not owner.TAG.fullmatch(n)], v2, 0, False
    )
    return sum(1 for n in dead if not any((p / n).is_dir() for p in parents))


def remove_server_dirs(bases: Sequence[Path], patience_s: float = 2.0) -> None:
    """What a dying fork server does for its dead server: remove that server's cgroups."""
    _remove_trees(bases, False, patience_s)


def _remove_trees(
    bases: Sequence[Path | None], v2: bool, patience_s: float, kill: bool = True
) -> None:
    """Kill what is in each base's child cgroups (with ``kill``) and remove children and bases.

    A cgroup can only be removed once the kernel has finished tearing down every process
    in it (EBUSY until then; a thousand killed fork-bomb children take a moment), so this
    retries for up to ``patience_s`` rather than leaving empty directories behind.
    """
    deadline = time.monotonic() + patience_s
    while True:
        left = False
        for base in bases:
            for child in owner.subdirs(base):
                if kill:
                    EnvCgroup(child, None, v2).kill_all()
                with contextlib.suppress(OSError):
                    child.rmdir()
            if base is not None:
                with contextlib.suppress(OSError):
                    base.rmdir()
                left = left or base.is_dir()
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.01)
