"""What an environment's process does to itself before any user code runs.

Runs in the child, between fork and the runtime: so it imports only the standard library and
must never raise past ``apply`` (the caller turns a failure into an exit status the server sees).
Order matters: join the cgroup first (so everything after is charged and limited), then the
mount namespace (private /tmp, code at /var/task), then rlimits, then the working directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from typing import Any

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
SIGKILL = 9

_libc: Any = None


def libc() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def die_with_parent() -> None:
    """An environment must not outlive the process that launched it."""
    _check(libc().prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def join_cgroups(procs_files: list[str]) -> None:
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    src = source.encode() if source else None
    fs = fstype.encode() if fstype else None
    _check(libc().mount(src, target.encode(), fs, flags, None), f"mount {target}")


def private_mounts(binds: list[tuple[str, str, bool]], hide: list[str]) -> None:
    """A private mount namespace: bind each (source, target, read_only); cover ``hide`` dirs.

    Binds happen in order and a source is resolved when it is mounted, so the code directory
    must be bound before /tmp is covered (code often lives under /tmp in tests).
    """
    _check(libc().unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for source, target, read_only in binds:
        _mount(source, target, None, MS_BIND | MS_REC)
        if read_only:
            _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
    for path in hide:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", 0)


def set_rlimits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        which = getattr(resource, name)
        _soft, hard = resource.getrlimit(which)
        capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (capped, capped))


def apply(spec: dict[str, Any]) -> None:
    """Everything an environment's process sets up on itself, from the launcher's spec."""
    die_with_parent()
    join_cgroups(spec.get("cgroup_procs", []))
    if spec.get("namespace"):
        binds = [(b[0], b[1], bool(b[2])) for b in spec.get("binds", [])]
        private_mounts(binds, spec.get("hide", []))
    set_rlimits(spec.get("rlimits", {}))
    os.chdir(spec["cwd"])
