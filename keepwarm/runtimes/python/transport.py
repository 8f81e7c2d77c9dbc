"""How the Python runtime talks to keepwarm: the fast framed socket (default).

Both transports offer the Runtime API's verbs: ``next``, ``respond``, ``error``, ``init_error``.
A response is held until the following ``next`` so that both leave in one write: the server
then learns "answered" and "ready for the next event" together, and a caller that invokes again
right after its answer always finds this environment idle.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from keepwarm.runtimes.python import wire


@dataclass
class Event:
    """One invocation as the runtime receives it (the Runtime API's /next headers + body)."""

    request_id: str
    deadline_ms: int
    invoked_arn: str
    body: bytes
    content_type: str = "application/json"
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str | None = None
    tenant_id: str | None = None


class PipeTransport:
    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._frames = wire.FrameBuffer()
        self._ready: list[tuple[dict[str, Any], bytes]] = []
        self._outbox = b""

    def next(self, report: dict[str, Any] | None = None) -> Event:
        meta: dict[str, Any] = {"t": "next"}
        if report:
            meta.update(report)
        self._sock.sendall(self._outbox + wire.encode(meta))
        self._outbox = b""
        meta, body = self._read()
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
        self._outbox += wire.encode({"t": "response", "id": request_id, "ct": content_type}, body)

    def error(self, request_id: str, body: bytes) -> None:
        self._outbox += wire.encode({"t": "error", "id": request_id}, body)

    def init_error(self, error_type: str, body: bytes) -> None:
        self._sock.sendall(wire.encode({"t": "init_error", "type": error_type}, body))

    def _read(self) -> tuple[dict[str, Any], bytes]:
        while not self._ready:
            data = self._sock.recv(1 << 20)
            if not data:
                os._exit(0)
            self._ready.extend(self._frames.feed(data))
        return self._ready.pop(0)
