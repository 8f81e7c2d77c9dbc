"""What an environment's process does to itself before any user code runs.

Runs in the child, between fork and the runtime: so it imports only the standard library and
must never raise past ``apply`` (the caller turns a failure into an exit status the server sees).
Order matters: join the cgroup first (so everything after is charged and limited), then the
mount namespace (private /tmp, code at /var/task), then the network namespace (``network:
none``), then rlimits, then drop root (everything before needs it; nothing after may have it),
then the working directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
SHM = "/dev/shm"
OPT = "/opt"
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
PR_SET_DUMPABLE = 4
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
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


def die_with_parent(sig: int = SIGKILL) -> None:
    """An environment must not outlive the process that launched it."""
    _check(libc().prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PDEATHSIG)")


def join_cgroups(procs_files: list[str]) -> None:
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    src = source.encode() if source else None
    fs = fstype.encode() if fstype else None
    opts = data.encode() if data else None
    _check(libc().mount(src, target.encode(), fs, flags, opts), f"mount {target}")


def private_mounts(
    binds: list[tuple[str, str, bool]],
    hide: list[str],
    keep: list[str] | None = None,
    opt: list[str] | None = None,
) -> None:
    """A private mount namespace: bind each (source, target, read_only); cover ``hide`` dirs.

    Binds happen in order and a source is resolved when it is mounted, so the code directory
    must be bound before /tmp is covered (code often lives under /tmp in tests). An IPC
    namespace of its own and an empty read-only ``/dev/shm`` too: Lambda has no shared memory
    (``multiprocessing.Pool`` fails there), and the host's would outlive the environment and
    be readable by others. ``opt``: the function's layers, for /opt (None: the host's stays).
    """
    _check(libc().unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(CLONE_NEWNS | CLONE_NEWIPC)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if opt is not None:
        layered_opt(opt)
    kept = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in keep or [] if os.path.isdir(p)}
    try:
        for source, target, read_only in binds:
            _bind(source, target, read_only)
        for path, fd in kept.items():  # the runtime itself lives under /tmp: bind it back
            os.makedirs(path, mode=0o755, exist_ok=True)
            _bind(f"/proc/self/fd/{fd}", path, True)
    finally:
        for fd in kept.values():
            os.close(fd)
    for path in [*hide, SHM]:
        if os.path.isdir(path):  # read-only and empty: nothing to see, nothing to fill
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def layered_opt(layers: list[str], target: str = OPT) -> None:
    """/opt as Lambda makes it: the layers' files merged, a later layer's over an earlier
    one's, read-only (an overlay: no copy, so a cold start pays one mount); empty without
    layers, so nothing of the host's /opt shows."""
    flags = MS_RDONLY | MS_NOSUID | MS_NODEV
    os.makedirs(target, mode=0o755, exist_ok=True)
    if not layers:
        _mount("tmpfs", target, "tmpfs", flags | MS_NOEXEC, "mode=0755,size=4k")
    elif len(layers) == 1:  # an overlay needs two lower layers when it has no upper one
        _bind(layers[0], target, True)
    else:
        lower = ":".join(_overlay_escaped(p) for p in reversed(layers))
        _mount("overlay", target, "overlay", flags, f"lowerdir={lower}")


def _overlay_escaped(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def _bind(source: str, target: str, read_only: bool) -> None:
    """Bound with ``nosuid`` and ``nodev``: a setuid file among a function's code or in its
    /tmp must not raise its privileges (Lambda never runs function code as root)."""
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_REC
    _mount(None, target, None, flags | (MS_RDONLY if read_only else 0))


def _private_top(path: str) -> str | None:
    """The highest ancestor of ``path`` that other users cannot enter (mode without o+x)."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:i])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def reveal(paths: list[str]) -> None:
    """Re-expose ``paths`` (read-only, at their own paths) below private ancestors.

    In this process's mount namespace only: each private ancestor is covered by an empty
    tmpfs (which also hides everything else in it) and each path is bound back from a handle
    opened before the cover went on. Needs root; runs before the drop.
    """
    plan = [(p, _private_top(p)) for p in paths]
    handles = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p, top in plan if top}
    try:
        for top in dict.fromkeys(top for _, top in plan if top):
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for path, fd in handles.items():
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
    finally:
        for fd in handles.values():
            os.close(fd)


def no_network() -> None:
    """A network namespace of its own: only a loopback interface (brought up), no route out."""
    import fcntl
    import socket
    import struct

    _check(libc().unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (real, effective and saved ids; no extra groups).

    The log pipe (fds 1 and 2) is handed to the new user first, so that reopening it by path
    (``/dev/stdout``, ``/proc/self/fd/1``, a shell's ``> /dev/stderr``) still works. A change of
    credentials clears the parent-death signal, so it is set again; the process is made
    non-dumpable, so no other process of the same uid can read its memory or environment.
    """
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.fchown(fd, uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
        raise OSError(f"could not drop privileges to {uid}:{gid}")
    die_with_parent()
    _check(libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(DUMPABLE)")


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
        private_mounts(binds, spec.get("hide", []), spec.get("keep", []), spec.get("opt"))
    if spec.get("network") == "none":
        no_network()
    set_rlimits(spec.get("rlimits", {}))
    if spec.get("user"):
        reveal(spec.get("reveal", []))
        uid, gid = spec["user"]
        drop_privileges(int(uid), int(gid))
    os.chdir(spec["cwd"])
