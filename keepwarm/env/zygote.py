"""The fork-server template process: imports the runtime once, forks environments on request.

Why: starting a Python interpreter costs ~15 ms before any user code runs; a fork of a process
that has already imported the runtime costs ~1 ms. Each forked environment still runs its own
Init (imports the handler module), so globals are fresh per environment and semantics are those
of a new interpreter. The zygote is single-threaded (forking a threaded process is unsafe), is
a child subreaper (orphans of handlers are reaped here, never left as zombies), and dies with the
server: PDEATHSIG sends it SIGTERM, and before it exits it kills every process below it, the
processes handlers started and detached (``setsid``, double forks) included; as a subreaper it
inherits them all.

Protocol over a SOCK_SEQPACKET socket (fd given in argv): the server sends
``{"op":"spawn","req":N,"spec":{...}}`` with two fds (control socket, log pipe); the zygote answers
``{"req":N,"pid":P}`` and later ``{"exit":P,"status":S,"maxrss":K}`` (raw wait status, peak RSS
in KiB) when P ends. ``{"op":"spare","req":N,"spec":{"name":...,"cgroup_procs":[...]}}`` forks a
spare that joins those cgroups and waits (keepwarm.env.spares); a later spawn whose spec names
it (``"spare"``) is handed to it instead of forking.
``{"op":"template","req":N,"spec":{...}}`` with one fd (a fresh SEQPACKET socket) forks a
snapshot template (keepwarm.env.snapshot) that answers ``{"ready":P}`` on that socket after its
Init, then serves the same ``spawn`` protocol there.

Cold-start costs removed here: libc (ctypes) is loaded and the runtime imported before any
fork; ``gc.freeze()`` moves everything imported so far out of the collector's reach, so the
child's first collections neither walk nor dirty (copy-on-write) the template's pages.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keepwarm.env import cgroup, child, isolation, owner

PR_SET_CHILD_SUBREAPER = 36
_preloaded = False


def preload() -> None:
    """Import what every environment needs, so forks inherit it already imported."""
    global _preloaded
    if _preloaded:
        return
    from keepwarm.env import snapshot  # noqa: F401
    from keepwarm.runtimes.python import bootstrap, transport  # noqa: F401

    isolation.libc()
    _preloaded = True


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode()


Runner = Callable[[dict[str, Any], int, int], None]


class Zygote:
    def __init__(self, sock: socket.socket, runner: Runner | None = None) -> None:
        self.sock = sock
        self.runner: Runner = runner or child.run
        self.children: set[int] = set()
        self.cgroup_bases: set[Path] = set()  # the server's, which a killed server cannot remove
        self.spares: dict[str, tuple[int, socket.socket]] = {}  # name -> (pid, its socket)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        self.sel: selectors.BaseSelector | None = None

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        sel = self.sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "sock")
        sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        while True:
            for key, _ in sel.select():
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                    self.reap()
                elif not self.on_request():
                    self.shutdown()
                    return

    def on_request(self) -> bool:
        try:
            raw, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 20, 4)
        except ConnectionError:
            return False
        if not raw:
            return False
        msg = json.loads(raw)
        if msg.get("op") == "spawn":
            self.spawn(msg, fds)
        elif msg.get("op") == "spare":
            self.spare(msg)
        elif msg.get("op") == "template":
            self.template(msg, fds)
        else:
            for fd in fds:
                os.close(fd)
        return True

    def template(self, msg: dict[str, Any], fds: list[int]) -> None:
        """Fork a snapshot template; it talks to the server on its own socket (``fds[0]``)."""
        from keepwarm.env import snapshot

        (sock_fd,) = fds
        self._note_cgroups(msg["spec"])  # its environments' cgroups are the server's too
        try:
            pid = os.fork()
        except OSError as exc:
            self.send({"req": msg["req"], "error": str(exc)})
            os.close(sock_fd)
            return
        if pid == 0:
            try:
                self._forget_parent()
                snapshot.run_template(msg["spec"], sock_fd)
            finally:
                os._exit(child.SETUP_FAILED)
        os.close(sock_fd)
        self.children.add(pid)
        self.send({"req": msg["req"], "pid": pid})

    def spawn(self, msg: dict[str, Any], fds: list[int]) -> None:
        ctl_fd, log_fd = fds
        spec = msg["spec"]
        self._note_cgroups(spec)
        pid = self._hand_over(spec, fds)
        if pid is None:
            try:
                pid = os.fork()
            except OSError as exc:
                self.send({"req": msg["req"], "error": str(exc)})
                pid = -1
            if pid == 0:
                self.in_child(spec, ctl_fd, log_fd)
        for fd in fds:
            os.close(fd)
        if pid < 0:
            return
        self.children.add(pid)
        self.send({"req": msg["req"], "pid": pid})

    def spare(self, msg: dict[str, Any]) -> None:
        """Fork a process that joins the given cgroup now and waits for a spec (env.spares)."""
        spec = msg["spec"]
        self._note_cgroups(spec)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError as exc:
            ours.close()
            theirs.close()
            self.send({"req": msg["req"], "error": str(exc)})
            return
        if pid == 0:
            ours.close()
            self._wait_as_spare(spec["cgroup_procs"], theirs)
        theirs.close()
        self.children.add(pid)
        self.spares[spec["name"]] = (pid, ours)
        self.send({"req": msg["req"], "spare": pid})

    def _hand_over(self, spec: dict[str, Any], fds: list[int]) -> int | None:
        """Give the spec to the spare named in it (already in its cgroup); None: fork instead."""
        pid, sock = self.spares.pop(spec.get("spare", ""), (0, None))
        if sock is None:
            return None
        try:
            socket.send_fds(sock, [encode({**spec, "cgroup_procs": []})], fds)
        except OSError:  # the spare is gone: fork as usual, into the same (now empty) cgroup
            return None
        finally:
            sock.close()
        return pid

    def _wait_as_spare(self, procs: list[str], sock: socket.socket) -> None:
        try:
            self._forget_parent()
            isolation.die_with_parent()
            isolation.join_cgroups(procs)
            raw, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 2)
            sock.close()
            if raw and len(fds) == 2:
                self._run(json.loads(raw), fds[0], fds[1])
        finally:
            os._exit(child.SETUP_FAILED)

    def _note_cgroups(self, spec: dict[str, Any]) -> None:
        self.cgroup_bases.update(Path(p).parent.parent for p in spec.get("cgroup_procs", []))

    def _forget_parent(self) -> None:
        """In a fresh fork: drop the fork server's signal handling and sockets."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        self.sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        for _pid, spare in self.spares.values():  # an environment must not reach a spare
            spare.close()
        if self.sel is not None:  # nor the fork server's epoll: it could make it block
            self.sel.close()
            self.sel = None

    def in_child(self, spec: dict[str, Any], ctl_fd: int, log_fd: int) -> None:
        try:
            self._forget_parent()
            self._run(spec, ctl_fd, log_fd)
        finally:
            os._exit(child.SETUP_FAILED)

    def _run(self, spec: dict[str, Any], ctl_fd: int, log_fd: int) -> None:
        if spec["mode"] == "fresh":
            self.exec_fresh(spec, ctl_fd, log_fd)
        self.runner(spec, ctl_fd, log_fd)

    @staticmethod
    def exec_fresh(spec: dict[str, Any], ctl_fd: int, log_fd: int) -> None:
        os.set_inheritable(ctl_fd, True)
        os.set_inheritable(log_fd, True)
        spec = {**spec, "mode": "python", "ctl_fd": ctl_fd, "log_fd": log_fd}
        argv = [sys.executable, "-m", "keepwarm.env.child", json.dumps(spec)]
        os.execve(sys.executable, argv, {"PYTHONPATH": os.environ.get("PYTHONPATH", "")})

    def reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.children:
                self.children.discard(pid)
                self.send({"exit": pid, "status": status, "maxrss": usage.ru_maxrss})

    def send(self, msg: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(encode(msg))

    def shutdown(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        kill_descendants()
        if self.cgroup_bases:
            cgroup.remove_server_dirs(sorted(self.cgroup_bases))


def kill_descendants(patience_s: float = 5.0) -> None:
    """Kill every process below this one, round after round, until none is left.

    Each round kills this process's children and reaps those that ended; what they had
    started is then re-parented here (a subreaper) and dies in a later round. Bounded, for a
    fork bomb, and never blocked on a child that will not die.
    """
    deadline = time.monotonic() + patience_s
    while kids := _children(os.getpid()):
        for pid in kids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _reap_ended()
        if time.monotonic() > deadline:
            return
        time.sleep(0.002)


def _children(parent: int) -> list[int]:
    ppid = str(parent)
    pids = (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [pid for pid in pids if (owner.stat_fields(pid) or ["", ""])[1] == ppid]


def _reap_ended() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def main() -> None:
    isolation.die_with_parent(signal.SIGTERM)  # not SIGKILL: it must clean up first
    with contextlib.suppress(OSError, AttributeError):
        isolation.libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    preload()
    gc.freeze()
    sock = socket.socket(fileno=int(sys.argv[1]))
    zygote = Zygote(sock)
    zygote.send({"ready": os.getpid()})
    zygote.serve()


if __name__ == "__main__":
    main()
