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
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keepwarm

PACKAGE_PARENT = str(Path(keepwarm.__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Exited:
    """How an environment process ended: its raw wait status, and its peak resident size
    (what Max Memory Used shows for an Init that failed before the runtime reported any)."""

    status: int
    maxrss_kb: int = 0


@dataclass
class Spawned:
    """A started environment process: its pid, control socket and log pipe (server ends)."""

    pid: int
    control: socket.socket
    log_fd: int
    exited: asyncio.Future[Exited]


class LauncherDied(RuntimeError):
    pass


TEMPLATE_INIT_TIMEOUT = 10.0  # Lambda's Init limit; a snapshot template gets no more


class _Conn:
    """One SEQPACKET conversation with a fork server (the zygote or a snapshot template).

    Both speak the same protocol (see keepwarm.env.zygote), so spawning through a template is
    the same request sent to a different socket.
    """

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.sock: socket.socket | None = sock
        self.loop = loop
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.exits: dict[int, asyncio.Future[Exited]] = {}
        self.ready: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.next_req = 0
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        while self.sock is not None:
            try:
                raw = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                raw = b""
            if not raw:
                self.dead()
                return
            self._dispatch(json.loads(raw))

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "ready" in msg or "failed" in msg:
            if not self.ready.done():
                self.ready.set_result(msg)
        elif "req" in msg:
            if "pid" in msg:  # watch for its exit now: it may be in this very batch of messages
                msg["exited"] = self.exits[int(msg["pid"])] = self.loop.create_future()
            fut = self.replies.pop(int(msg["req"]), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif "exit" in msg:
            ex = self.exits.pop(int(msg["exit"]), None)
            if ex is not None and not ex.done():
                ex.set_result(Exited(int(msg["status"]), int(msg.get("maxrss", 0))))

    def dead(self) -> None:
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
        pending: list[asyncio.Future[Any]] = [*self.replies.values(), *self.exits.values()]
        for fut in pending:
            if not fut.done():
                fut.set_exception(LauncherDied("the fork server died"))
                fut.exception()  # not every exit is awaited (a template's): no "never retrieved"
        self.replies.clear()
        self.exits.clear()
        if not self.ready.done():
            self.ready.set_exception(LauncherDied("the fork server did not start"))

    async def request(self, op: str, spec: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        if self.sock is None:
            raise LauncherDied("the fork server is gone")
        req = self.next_req = self.next_req + 1
        reply: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.replies[req] = reply
        payload = _dumps({"op": op, "req": req, "spec": spec}).encode()
        while True:
            try:
                socket.send_fds(self.sock, [payload], fds)
                break
            except BlockingIOError:
                await asyncio.sleep(0.001)
        return await reply

    async def spawn(self, spec: dict[str, Any]) -> Spawned:
        ctl_ours, ctl_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_r, log_w = os.pipe()
        os.set_blocking(log_r, False)
        try:
            msg = await self.request("spawn", spec, [ctl_theirs.fileno(), log_w])
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
        exited: asyncio.Future[Exited] = msg["exited"]
        return Spawned(int(msg["pid"]), ctl_ours, log_r, exited)

    async def spare(self, name: str, procs: list[str]) -> int:
        msg = await self.request("spare", {"name": name, "cgroup_procs": procs}, [])
        if "error" in msg:
            raise OSError(msg["error"])
        return int(msg["spare"])


_dumps = json.JSONEncoder(separators=(",", ":")).encode


class ForkServer:
    """The server side of the zygote protocol (see keepwarm.env.zygote), plus snapshot templates.

    A spec with a ``snapshot`` key is spawned through that function's template (a process that
    already ran Init, see keepwarm.env.snapshot), created on first use. A template that cannot
    start or whose Init fails is remembered, and that function falls back to ordinary forks, so
    its init error reaches callers exactly as without snapshots.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._root: _Conn | None = None
        self._templates: dict[str, asyncio.Future[_Conn | None]] = {}
        self._template_dirs: list[str] = []
        self.template_failures: dict[str, str] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
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
        self._root = _Conn(ours, loop)
        await asyncio.wait_for(self._root.ready, timeout=30)

    @property
    def alive(self) -> bool:
        return self._root is not None and self._root.sock is not None

    async def spawn(self, spec: dict[str, Any]) -> Spawned:
        if not self.alive:
            await self.start()
        assert self._root is not None
        key = spec.get("snapshot")
        if key and (spec.get("user") or spec.get("network")):
            # A template runs Init with the fork server's privileges and network, and its
            # children cannot re-acquire what it gave up: such functions fork as usual.
            self.template_failures.setdefault(str(key), "needs privilege drop or no network")
        elif key and spec.get("mode") == "fork":
            template = await self._template(str(key), spec)
            if template is not None:
                try:
                    return await template.spawn(spec)
                except LauncherDied:
                    self._templates.pop(str(key), None)  # next cold start makes a new one
        return await self._root.spawn(spec)

    async def spare(self, name: str, procs: list[str]) -> int:
        """A spare process in the given cgroups (keepwarm.env.spares), from the fork server."""
        if not self.alive:
            await self.start()
        assert self._root is not None
        return await self._root.spare(name, procs)

    async def _template(self, key: str, spec: dict[str, Any]) -> _Conn | None:
        """The function's running template, starting it on first use (one at a time per key)."""
        if key in self.template_failures:
            return None
        pending = self._templates.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._start_template(key, spec))
            self._templates[key] = pending
        conn = await asyncio.shield(pending)
        if conn is None or conn.sock is None:
            self._templates.pop(key, None)
            return None if conn is None else await self._template(key, spec)
        return conn

    async def _start_template(self, key: str, spec: dict[str, Any]) -> _Conn | None:
        assert self._root is not None
        loop = asyncio.get_running_loop()
        tmp = str(spec["snapshot_tmp"])
        os.makedirs(tmp, exist_ok=True)
        self._template_dirs.append(os.path.dirname(tmp))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn = _Conn(ours, loop)
        try:
            reply = await self._root.request("template", spec, [theirs.fileno()])
            theirs.close()  # the template's end is its own now: its exit reaches ``conn`` at once
            if "error" in reply:  # the fork server could not fork it
                raise OSError(reply["error"])
            limit = float(spec.get("init_timeout_s", TEMPLATE_INIT_TIMEOUT))
            ready = await asyncio.wait_for(conn.ready, limit)  # past it: ``ready`` is cancelled
        except (TimeoutError, LauncherDied, OSError) as exc:
            ready = {"failed": f"template did not start: {exc}"}
        except BaseException:  # cancelled (the server closes): the template goes with it
            conn.dead()
            raise
        finally:
            theirs.close()
        if "failed" in ready:
            self.template_failures[key] = str(ready["failed"])
            conn.dead()
            return None
        return conn

    def stop_template(self, key: str) -> None:
        """Close a template no environment will fork from again (its deployment was replaced
        and drained); closing its socket ends it."""
        pending = self._templates.pop(key, None)
        if pending is not None:
            pending.add_done_callback(_close_template)

    async def close(self) -> None:
        for pending in self._templates.values():
            if pending.done():
                _close_template(pending)
            else:
                pending.cancel()
        self._templates.clear()
        if self._root is not None:
            self._root.dead()
            self._root = None
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout=5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await asyncio.to_thread(proc.wait)
        for path in self._template_dirs:
            shutil.rmtree(path, ignore_errors=True)
        self._template_dirs.clear()


def _close_template(pending: asyncio.Future[_Conn | None]) -> None:
    if not pending.cancelled() and pending.exception() is None:
        conn = pending.result()
        if conn is not None:
            conn.dead()


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
