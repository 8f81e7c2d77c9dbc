"""The server end of the Python runtime's fast transport (see runtimes/python/transport.py).

It only moves messages: frames from the runtime become calls on a ``RuntimeSink`` (the
environment), and ``deliver`` hands the runtime its next event. The Runtime API server offers the
same two directions over HTTP, so an environment does not care which one its runtime speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from keepwarm.invocation import Invocation
from keepwarm.runtime_api.peers import PeerGuard
from keepwarm.runtime_api.server import RuntimeApiServer
from keepwarm.runtime_api.state import RuntimeState
from keepwarm.runtimes.event import Event
from keepwarm.runtimes.python import wire


class RuntimeSink(Protocol):
    """What a runtime can tell its environment (the Runtime API's verbs)."""

    def runtime_next(self, report: dict[str, Any]) -> None: ...

    def runtime_response(self, request_id: str, body: bytes, content_type: str) -> None: ...

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def runtime_init_error(self, error_type: str | None, body: bytes, rss_kb: int = 0) -> None: ...


class Channel(Protocol):
    def deliver(self, invocation: Invocation, deadline_ms: int, spin_us: int = 0) -> None: ...

    def close(self) -> None: ...


class PipeChannel:
    def __init__(self, sock: socket.socket, sink: RuntimeSink) -> None:
        self._sock = sock
        self._sink = sink
        self._frames = wire.FrameBuffer()
        self._loop = asyncio.get_running_loop()
        self._out = bytearray()
        sock.setblocking(False)
        self._fd = sock.fileno()
        self._eof = False
        self._current = ""  # the request id an answer must carry
        self._loop.add_reader(self._fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = self._sock.recv(wire.READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._stop_reading()
            self._eof = True
            return
        self._take(data)

    def _take(self, data: bytes) -> None:
        try:
            frames = self._frames.feed(data)
        except ValueError:  # not our framing: user code wrote to this socket
            self._hang_up()
            return
        for meta, body in frames:
            self._dispatch(meta, body)

    def _hang_up(self) -> None:
        """Stop listening to a runtime that broke the protocol; shutting the socket down makes
        its next read or write fail, so it exits and the environment reports a runtime error
        now, instead of a timeout later."""
        self._stop_reading()
        self._eof = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def drain(self) -> None:
        """Read every frame already sent, now (the runtime exited: what it said comes first).

        The exit report travels on the fork server's socket, this on the control socket: the
        event loop may see the exit first, yet an init error or a response the runtime sent
        before exiting must not be lost to a generic Runtime.ExitError.
        """
        for _ in range(64):
            if self._fd < 0 or self._sock.fileno() < 0:
                return
            try:
                data = self._sock.recv(wire.READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data or self._eof:
                self._stop_reading()
                self._fd = -1
                return
            self._take(data)

    def spin(self, seconds: float, done: Callable[[], bool]) -> None:
        """Busy-read the socket until ``done()`` or ``seconds`` pass (server otherwise idle).

        Why: a process blocked in epoll, on a virtual machine most of all, takes tens of
        microseconds to wake; a short handler answers within that time. Spinning instead of
        sleeping turns that wake-up into a few non-blocking reads. The caller spins only while
        no other invocation is in flight, so the event loop has nothing else to do meanwhile.
        """
        end = time.perf_counter() + seconds
        while not (self._eof or self._fd < 0 or done()) and time.perf_counter() < end:
            self._on_readable()

    def _dispatch(self, meta: dict[str, Any], body: bytes) -> None:
        """One frame: a verb, and for an answer also the ``next`` that travelled with it.

        An answer for any request but the current one is dropped whole, as the Runtime API
        refuses it (``InvalidRequestID``): handler code can write to this socket, and a forged
        answer must not end its invocation early or reach another caller.
        """
        kind = meta.get("t")
        if kind == "next":
            self._sink.runtime_next(meta)
            return
        if kind in ("response", "error"):
            if meta.get("id") != self._current or not self._current:
                return
            self._current = ""
        if kind == "response":
            self._sink.runtime_response(meta["id"], body, meta.get("ct", "application/json"))
        elif kind == "error":
            self._sink.runtime_error(meta["id"], body, None)
        elif kind == "init_error":
            self._sink.runtime_init_error(meta.get("type"), body, int(meta.get("rss_kb") or 0))
        report = meta.get("next")
        if isinstance(report, dict):
            self._sink.runtime_next(report)

    def deliver(self, invocation: Invocation, deadline_ms: int, spin_us: int = 0) -> None:
        self._current = invocation.request_id
        meta: dict[str, Any] = {
            "t": "invoke",
            "id": invocation.request_id,
            "deadline": deadline_ms,
            "arn": invocation.invoked_arn,
        }
        if spin_us:
            meta["spin"] = spin_us
        if invocation.content_type != "application/json":
            meta["ct"] = invocation.content_type
        for key, value in (
            ("cc", invocation.client_context),
            ("ci", invocation.cognito_identity),
            ("trace", invocation.trace_id),
        ):
            if value:
                meta[key] = value
        self._write(wire.frame(orjson.dumps(meta), invocation.payload))

    def _write(self, data: bytes) -> None:
        if not self._out:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return
            if sent == len(data):
                return
            data = data[sent:]
            self._loop.add_writer(self._fd, self._on_writable)
        self._out += data

    def _on_writable(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(self._out)
        del self._out[:sent]
        if not self._out:
            self._loop.remove_writer(self._fd)

    def _stop_reading(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)

    def close(self) -> None:
        self._stop_reading()
        self._fd = -1
        self._sock.close()


class RuntimeApiChannel:
    """The Runtime API 2018-06-01 as a ``Channel``: one loopback HTTP endpoint per environment.

    What Node, ``provided.*`` runtimes (awslambdaric, any ``bootstrap``) and the Python runtime in
    ``runtime-api`` mode speak. It stands between the endpoint's state object and the
    environment: it forwards every verb unchanged, adding the process's peak RSS to ``next``
    reports when the runtime sends none (only keepwarm's own Python runtime does).
    Open it *before* the process starts: its address goes into ``AWS_LAMBDA_RUNTIME_API``.
    """

    def __init__(self, sink: RuntimeSink, guard: PeerGuard | None = None) -> None:
        self._sink = sink
        self._state = RuntimeState(self)
        self._guard = guard
        self._server = RuntimeApiServer(self._state, guard)
        self._pid: int | None = None

    @classmethod
    async def open(cls, sink: RuntimeSink, guard: PeerGuard | None = None) -> RuntimeApiChannel:
        """Listening, for the environment's own processes only when ``guard`` says who."""
        channel = cls(sink, guard)
        await channel._server.start()
        return channel

    @property
    def address(self) -> str:
        return self._server.address

    def attach(self, pid: int) -> None:
        """The runtime's process, once started (for Max Memory Used, and whose connections
        are its own: it leads the environment's session)."""
        self._pid = pid
        if self._guard is not None:
            self._guard.session = pid
            self._server.recheck()

    # -- RuntimeSink, forwarded ----------------------------------------------------------------
    def runtime_next(self, report: dict[str, Any]) -> None:
        if "rss_kb" not in report and self._pid is not None:
            report = {**report, "rss_kb": _peak_rss_kb(self._pid)}
        self._sink.runtime_next(report)

    def runtime_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self._sink.runtime_response(request_id, body, content_type)

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._sink.runtime_error(request_id, body, error_type)

    def runtime_init_error(self, error_type: str | None, body: bytes) -> None:
        self._sink.runtime_init_error(error_type, body)

    # -- Channel -------------------------------------------------------------------------------
    def deliver(self, invocation: Invocation, deadline_ms: int, spin_us: int = 0) -> None:
        self._state.deliver(
            Event(
                request_id=invocation.request_id,
                deadline_ms=deadline_ms,
                invoked_arn=invocation.invoked_arn,
                body=invocation.payload,
                content_type=invocation.content_type,
                client_context=invocation.client_context,
                cognito_identity=invocation.cognito_identity,
                trace_id=invocation.trace_id,
            )
        )

    def close(self) -> None:
        self._state.close()
        self._server.close()


def _peak_rss_kb(pid: int) -> int:
    """VmHWM of a process (its peak resident set), 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
