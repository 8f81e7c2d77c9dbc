"""One ``keepwarm serve`` per data directory.

Why: the registry and the async queue are SQLite files there, and a queue assumes one
dispatcher. A second server on the same directory would claim the first's due events, drop
those of functions it does not know ("no longer exists"), and at start-up re-queue the events
the first is running (run twice). So the second is refused, naming the first. The lock is an
``flock`` on ``serve.lock``: the kernel releases it when its holder dies, whatever the death.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from keepwarm.errors import KeepwarmError


class DataDirInUse(KeepwarmError):
    pass


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "serve.lock"
        self._fd = -1

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(
                f"keepwarm: the data dir {self.path.parent} is in use by another keepwarm "
                f"serve (pid {holder}); give each server its own --data-dir."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
