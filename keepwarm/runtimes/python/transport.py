"""How the Python runtime talks to keepwarm: the fast framed socket (default) or the Runtime API.

Both transports offer the Runtime API's verbs: ``next``, ``respond``, ``error``, ``init_error``.
With the pipe, a response is held until the following ``next`` so that both leave in one frame
(the answer's meta carries the ``next`` report): the server then learns "answered" and "ready
for the next event" together, and a caller that invokes again right after its answer always
finds this environment idle. Over the Runtime API the two are separate requests, as for
awslambdaric; the server ends an invocation at the following ``/next`` either way, so the
behaviour is the same.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import socket
import sys
import time
from typing import Any

from keepwarm.runtimes.event import Event
from keepwarm.runtimes.python import wire

_RUSAGE = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)


class PipeTransport:
    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._frames = wire.FrameBuffer()
        self._ready: list[tuple[dict[str, Any], bytes]] = []
        self._answer: tuple[dict[str, Any], bytes] | None = None  # sent with the next ``next``
        self._spin_s = 0.0
        self._waited_s = 0.0  # how long the last wait for an event took

    def next(self, report: dict[str, Any] | None = None) -> Event:
        if self._answer is None:
            frame = wire.encode({"t": "next", **report} if report else {"t": "next"})
        else:
            (meta, body), self._answer = self._answer, None
            meta["next"] = report or {}
            frame = wire.encode(meta, body)
        try:
            self._sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):  # the server closed it: going away
            os._exit(0)
        started = time.perf_counter()
        meta, body = self._read()
        self._waited_s = time.perf_counter() - started
        self._spin_s = meta.get("spin", 0) / 1e6
        return Event(
            request_id=meta["id"],
            deadline_ms=meta["deadline"],
            invoked_arn=meta["arn"],
            body=body,
            content_type=meta.get("ct", "application/json"),
            client_context=meta.get("cc"),
            cognito_identity=meta.get("ci"),
            trace_id=meta.get("trace"),
        )

    def respond(self, request_id: str, body: bytes, content_type: str) -> None:
        self._answer = {"t": "response", "id": request_id, "ct": content_type}, body

    def error(self, request_id: str, body: bytes) -> None:
        self._answer = {"t": "error", "id": request_id}, body

    def init_error(self, error_type: str, body: bytes) -> None:
        """With the runtime's peak memory: it exits next, before the server could look."""
        rss_kb = max(resource.getrusage(who).ru_maxrss for who in _RUSAGE)
        meta = {"t": "init_error", "type": error_type, "rss_kb": rss_kb}
        self._sock.sendall(wire.encode(meta, body))

    def send_answer(self) -> None:
        """Send a held answer now, alone (before a leak scan, so the server has it at once)."""
        if self._answer is not None:
            (meta, body), self._answer = self._answer, None
            self._sock.sendall(wire.encode(meta, body))

    def _read(self) -> tuple[dict[str, Any], bytes]:
        if self._spin_s > self._waited_s and not self._ready:
            self._spin()
        while not self._ready:
            self._receive()
        return self._ready.pop(0)

    def _receive(self) -> None:
        data = self._sock.recv(wire.READ_SIZE)
        if not data:  # the server closed the socket: the environment is going away
            os._exit(0)
        self._ready.extend(self._frames.feed(data))

    def _spin(self) -> None:
        """Poll briefly for the next event before sleeping, when the server asked for it.

        The server asks only while invocations come one at a time, and this spins only if the
        previous event came within the budget: a caller invoking in a tight loop then finds
        this process running, not asleep (waking a sleeping process costs tens of microseconds
        on a virtual machine), and a slower caller (boto3: ~1 ms between calls) is not robbed
        of CPU for nothing. At most ``spin`` µs of CPU per event.
        """
        end = time.perf_counter() + self._spin_s
        self._sock.setblocking(False)
        try:
            while not self._ready and time.perf_counter() < end:
                with contextlib.suppress(BlockingIOError):
                    self._receive()
        finally:
            self._sock.setblocking(True)


_API = "/2018-06-01/runtime"


class RuntimeApiTransport:
    """The Runtime API 2018-06-01 over one keep-alive HTTP connection (stdlib ``http.client``).

    What awslambdaric does, minus its C++ client: no timeout on ``/next`` (contract §2.1). The
    statistics that the pipe sends with ``next`` travel in a ``Keepwarm-Report`` header, which
    the server may ignore. A closed endpoint means the environment is going away: exit quietly.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=None)

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        try:
            self._conn.request(method, path, body=body, headers=headers or {})
            response = self._conn.getresponse()
            return response, response.read()
        except (OSError, http.client.HTTPException) as exc:
            sys.stderr.write(f"keepwarm: the Runtime API went away ({exc!r}); exiting\n")
            sys.stderr.flush()
            os._exit(0)

    def next(self, report: dict[str, Any] | None = None) -> Event:
        headers = {"Keepwarm-Report": json.dumps(report, separators=(",", ":"))} if report else {}
        response, body = self._call("GET", f"{_API}/invocation/next", headers=headers)
        head = response.headers
        return Event(
            request_id=head.get("Lambda-Runtime-Aws-Request-Id", ""),
            deadline_ms=int(head.get("Lambda-Runtime-Deadline-Ms") or 0),
            invoked_arn=head.get("Lambda-Runtime-Invoked-Function-Arn", ""),
            body=body,
            content_type=head.get("Content-Type", ""),
            client_context=head.get("Lambda-Runtime-Client-Context"),
            cognito_identity=head.get("Lambda-Runtime-Cognito-Identity"),
            trace_id=head.get("Lambda-Runtime-Trace-Id"),
            tenant_id=head.get("Lambda-Runtime-Aws-Tenant-Id"),
        )

    def respond(self, request_id: str, body: bytes, content_type: str) -> None:
        path = f"{_API}/invocation/{request_id}/response"
        self._call("POST", path, body, {"Content-Type": content_type})

    def error(self, request_id: str, body: bytes) -> None:
        path = f"{_API}/invocation/{request_id}/error"
        self._call("POST", path, body, {"Content-Type": "application/json"})

    def send_answer(self) -> None:
        """Answers already leave as they are given over HTTP."""

    def init_error(self, error_type: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error_type,
        }
        self._call("POST", f"{_API}/init/error", body, headers)
