"""Which user an environment's process runs as, when the server runs as root.

Why not root: a function running as root inside its mount namespace could undo that namespace
(umount /var/task or /tmp and look underneath), move itself out of its cgroup, raise its own
rlimits, read every file on the machine and signal every process. Lambda runs functions as an
unprivileged ``sbx_user``; here the child drops to an unprivileged uid *after* it has joined its
cgroup, built its mounts and set its rlimits (all of which need root), just before user code.

Why a uid per environment (``run_as="sandbox"``, the default) rather than one shared ``nobody``:
processes of one uid can signal each other and read each other's ``/proc/<pid>/environ`` and,
through ``/proc/<pid>/root``, each other's private ``/tmp``. Distinct uids close all of that, and
make ``RLIMIT_NPROC`` (a per-uid count) a real per-environment process limit. The uids come from
a range no login account uses; each server starts at a random offset in it, so two servers on
one machine rarely hand out the same uid, and a uid is reused only after the whole range.
"""

from __future__ import annotations

import itertools
import os
import pwd
import random
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

SANDBOX_BASE = 1_000_000_000
SANDBOX_SPAN = 1 << 20
NOBODY = 65534

_next = itertools.count(random.randrange(SANDBOX_SPAN))


def identity(run_as: str) -> tuple[int, int] | None:
    """(uid, gid) for one new environment under ``run_as``; None means stay root."""
    if run_as == "root":
        return None
    if run_as == "sandbox":
        uid = SANDBOX_BASE + next(_next) % SANDBOX_SPAN
        return uid, uid
    if run_as == "nobody":
        return NOBODY, NOBODY
    if run_as[:1].isdigit():
        uid_text, _, gid_text = run_as.partition(":")
        return int(uid_text), int(gid_text or uid_text)
    entry = pwd.getpwnam(run_as)
    return entry.pw_uid, entry.pw_gid


def _other_can(path: Path, bits: int) -> bool:
    try:
        return os.stat(path).st_mode & bits == bits
    except OSError:
        return False


def _reachable(path: Path, final_bits: int) -> bool:
    """Whether a user that owns nothing here (no owner or group match) can reach ``path``."""
    return all(_other_can(p, stat.S_IXOTH) for p in path.parents) and _other_can(path, final_bits)


def _needed() -> list[Path]:
    """Directories the runtime reads after the drop: the interpreter, its stdlib, keepwarm.

    Forked environments have the runtime imported already, but still import lazily from the
    standard library, from site-packages and from keepwarm's package (``keepwarm.orc``, the
    leak detector); Node and the fresh launch mode exec the interpreter.
    """
    import keepwarm

    dirs: list[str | Path] = [sys.base_prefix, sys.prefix, Path(os.__file__).parent]
    dirs.append(Path(keepwarm.__file__).parent)
    dirs += [p for p in sys.path if "-packages" in p and os.path.isdir(p)]
    found: list[Path] = []
    for raw in dirs:
        path = Path(raw).resolve()
        if not any(path == f or f in path.parents for f in found):
            found = [f for f in found if path not in f.parents] + [path]
    return found


def code_dir_open(path: Path) -> bool:
    """Whether an unprivileged user can enter and list the code directory itself (its parents
    do not matter: it is bound at /var/task)."""
    return _other_can(path, stat.S_IROTH | stat.S_IXOTH)


def under_tmp() -> tuple[str, ...]:
    """Runtime directories that live under /tmp (keepwarm installed there, e.g. a CI checkout):
    a private /tmp would hide them, so each environment binds them back (see isolation)."""
    return under("/tmp")


def under(top: str) -> tuple[str, ...]:
    """The runtime directories below ``top``: Python's and keepwarm's, and Node's."""
    node = shutil.which("node")
    found = [*_needed(), *([Path(node).resolve().parent] if node else [])]
    return tuple(str(p) for p in found if Path(top) in p.parents)


@dataclass(frozen=True)
class Plan:
    """What the child must re-expose before it drops root, or why it cannot drop at all.

    ``reveal``: directories that are world-readable themselves but sit below a private one
    (a pyenv under ``/root``, 0700); the child covers that private ancestor with an empty
    tmpfs in its own mount namespace and binds each of them back at its own path (read-only).
    That also hides the rest of the private directory (``/root/.aws``) from functions.
    ``blocked``: a needed directory no other user may read at all: then functions stay root.
    """

    reveal: tuple[str, ...] = ()
    blocked: str | None = None


def plan() -> Plan:
    reveal: list[str] = []
    rx = stat.S_IROTH | stat.S_IXOTH
    for path in _needed():
        if _reachable(path, rx):
            continue
        if not _other_can(path, rx):
            return Plan(blocked=str(path))
        reveal.append(str(path))
    return Plan(tuple(reveal))
