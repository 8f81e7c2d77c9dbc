"""Starts environment processes through the fork server and learns how they ended.

Only ``env/`` touches processes; this module owns the fork server (``zygote``) from the server's
side: it starts it with a minimal environment (nothing of the host's leaks into functions, not
even through /proc/<pid>/environ of the template), sends spawn requests with the child's two
file descriptors, and turns the zygote's exit reports into futures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keepwarm

PACKAGE_PARENT = str(Path(keepwarm.__file__).resolve().parent.parent)


@dataclass
class Spawned:
    """A started environment process: its pid, control socket and log pipe (server ends)."""

    pid: int
    control: socket.socket
    log_fd: int
    exited: asyncio.Future[int]


class LauncherDied(RuntimeError):
    pass


class ForkServer:
    """The server side of the zygote protocol (see keepwarm.env.zygote)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._next_req = 0
        self._ready: asyncio.Future[int] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": PACKAGE_PARENT}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "keepwarm.env.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = self._loop.create_future()
        self._loop.add_reader(ours.fileno(), self._on_readable)
        await asyncio.wait_for(self._ready, timeout=30)

    def _on_readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                raw = self._sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                raw = b""
            if not raw:
                self._on_dead()
                return
            self._dispatch(json.loads(raw))

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "ready" in msg and self._ready is not None and not self._ready.done():
            self._ready.set_result(int(msg["ready"]))
        elif "req" in msg:
            fut = self._replies.pop(int(msg["req"]), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif "exit" in msg:
            ex = self._exits.pop(int(msg["exit"]), None)
            if ex is not None and not ex.done():
                ex.set_result(int(msg["status"]))

    def _on_dead(self) -> None:
        if self._loop is not None and self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())
        pending: list[asyncio.Future[Any]] = [*self._replies.values(), *self._exits.values()]
        for fut in pending:
            if not fut.done():
                fut.set_exception(LauncherDied("the fork server died"))
        self._replies.clear()
        self._exits.clear()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(LauncherDied("the fork server did not start"))
        self._sock = None

    @property
    def alive(self) -> bool:
        return self._sock is not None

    async def spawn(self, spec: dict[str, Any]) -> Spawned:
        if self._sock is None:
            await self.start()
        assert self._sock is not None and self._loop is not None
        ctl_ours, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe()
        os.set_blocking(log_r, False)
        req = self._next_req = self._next_req + 1
        reply: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._replies[req] = reply
        try:
            payload = json.dumps({"op": "spawn", "req": req, "spec": spec}).encode()
            await self._send(payload, [ctl_theirs.fileno(), log_w])
            msg = await reply
        except BaseException:
            ctl_ours.close()
            os.close(log_r)
            raise
        finally:
            ctl_theirs.close()
            os.close(log_w)
        if "error" in msg:
            ctl_ours.close()
            os.close(log_r)
            raise OSError(msg["error"])
        pid = int(msg["pid"])
        exited: asyncio.Future[int] = self._loop.create_future()
        self._exits[pid] = exited
        return Spawned(pid, ctl_ours, log_r, exited)

    async def _send(self, payload: bytes, fds: list[int]) -> None:
        assert self._sock is not None
        while True:
            try:
                socket.send_fds(self._sock, [payload], fds)
                return
            except BlockingIOError:
                await asyncio.sleep(0.001)

    async def close(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout=5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait)


def describe_exit(status: int) -> str:
    """Lambda's words (Go's ``ProcessState.String``) for how a runtime process ended."""
    if os.WIFSIGNALED(status):
        return f"Runtime exited with error: signal: {signal_name(os.WTERMSIG(status))}"
    code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
    if code == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: exit status {code}"


_GO_SIGNALS = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGPIPE: "broken pipe",
    signal.SIGHUP: "hangup",
    signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
}


def signal_name(signum: int) -> str:
    return _GO_SIGNALS.get(signal.Signals(signum), f"signal {signum}")
