"""Who may speak to an environment's Runtime API: its own processes, and no one else.

Why: every endpoint listens on the host's loopback, which every function shares (all but the
``network: none`` ones). Without a check any function could connect to another environment's
endpoint, take its invocations from ``/next`` (the event, with whatever request data it holds)
and answer them in its place. On Lambda each sandbox's Runtime API is its own.

A connecting socket is looked up in ``/proc/net/tcp``: its owner's uid and its inode. When the
environment runs as a uid of its own, the uid decides. Otherwise (a server not running as root,
or ``run_as`` shared) the socket must be held open by a process of the environment's session
(environments ``setsid``), which is only known once the process exists: until then a
connection waits (``None``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

TCP_TABLE = "/proc/net/tcp"
TCP6_TABLE = "/proc/net/tcp6"  # an IPv6 socket connected to ::ffff:127.0.0.1 is listed there
_LOOPBACK = {TCP_TABLE: "0100007F", TCP6_TABLE: "0000000000000000FFFF00000100007F"}
_CAN_TELL = os.path.exists(TCP_TABLE)  # once: not a file system lookup per connection


class PeerGuard:
    def __init__(self, uid: int | None, own_uid: bool) -> None:
        self.uid = uid  # the environment's user, None: the server's own
        self.own_uid = own_uid and uid is not None
        self.session: int | None = None  # the environment's process (and session) id

    def admits(self, local_port: int, peer_port: int) -> bool | None:
        """True or False for the connection from ``peer_port``; None while undecidable."""
        if not _CAN_TELL:
            return True  # no way to tell on this system: as before
        owner = socket_owner(local_port, peer_port)
        if owner is None:
            return False
        uid, inode = owner
        if uid != (os.geteuid() if self.uid is None else self.uid):
            return False
        if self.own_uid:
            return True
        if self.session is None:
            return None
        return session_holds(self.session, inode)


def socket_owner(local_port: int, peer_port: int) -> tuple[int, int] | None:
    """(uid, inode) of the loopback socket connected from ``peer_port`` to ``local_port``,
    whether an IPv4 socket or an IPv6 one using the v4-mapped address (the JVM's default)."""
    for path, address in _LOOPBACK.items():
        here, there = f"{address}:{peer_port:04X}", f"{address}:{local_port:04X}"
        with contextlib.suppress(OSError), open(path) as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) > 9 and fields[1] == here and fields[2] == there:
                    return int(fields[7]), int(fields[9])
    return None


def session_holds(session: int, inode: int) -> bool:
    """Whether a process of ``session`` has the socket ``inode`` open."""
    target = f"socket:[{inode}]"
    for pid in _session_pids(session):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return True
    return False


def _session_pids(session: int) -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # state, ppid, pgrp, session
                yield int(entry)
