"""Whose leftovers these are: names that tell which server made a directory, and whether that
server is still alive.

Why: a server killed without warning (SIGKILL, a crash, the OOM killer) cannot remove its
cgroups or its environments' directories; the next server must tell those from the live
directories of another server running beside it.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from pathlib import Path


def server_tag() -> str:
    """The name of one server's directories (its cgroups, its environments' files): unique per
    EnvHost, and telling whose it is.

    Why the start time: a later sweep must tell a live owner from a dead one whose pid was
    reused. Why the pid namespace: a server in another one (a container sharing this cgroup)
    has pids this one cannot see, and must not be taken for dead. Why the counter: two hosts
    in one process (two ``Runtime`` objects) must not share a directory, or closing one would
    kill the other's environments.
    """
    pid = os.getpid()
    return f"keepwarm-{pid}-{_start_ticks(pid)}-{_pid_namespace()}-{next(_hosts)}"


_hosts = itertools.count(1)
TAG = re.compile(r"keepwarm-(\d+)-(\d+)-(\d+)-\d+")
LEGACY = re.compile(r"keepwarm-(?:probe-)?(\d+)")


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (state, ppid, ...); None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def subdirs(path: Path | None) -> list[Path]:
    if path is None:
        return []
    try:
        return [d for d in path.iterdir() if d.is_dir()]
    except OSError:
        return []


def _start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks since boot); None when it is gone or a zombie."""
    fields = stat_fields(pid)
    return None if fields is None or fields[0] == "Z" else int(fields[19])


def gone(name: str) -> bool:
    """Whether the server that named this directory is known to be dead."""
    if match := TAG.fullmatch(name):
        pid, ticks, namespace = (int(g) for g in match.groups())
        return namespace == _pid_namespace() and _start_ticks(pid) != ticks
    if match := LEGACY.fullmatch(name):
        return _start_ticks(int(match[1])) is None
    return False


def sweep_dirs(parent: Path) -> int:
    """Remove what dead servers left under ``parent`` (their environments' files, ``/tmp``
    contents included); directories of live servers and unknown names stay. Returns how many."""
    removed = 0
    for entry in subdirs(parent):
        if TAG.fullmatch(entry.name) and gone(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed
