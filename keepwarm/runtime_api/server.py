"""A tiny HTTP/1.1 keep-alive server for one environment's Runtime API (h11 over asyncio).

Why not uvicorn or aiohttp: every environment gets its own endpoint, as every Lambda sandbox
does, so the server must cost almost nothing to start and hold (a listening socket and a few
protocol objects: no tasks, no threads). h11 does the parsing strictly; anything it rejects gets
a 400 and the connection is closed, never a 500. It binds 127.0.0.1 only.

A ``/next`` that has to wait parks its connection until the state hands it an event; there is
no timeout on it, as on Lambda (contract §2.1). A parked connection is still read (so a hang-up
is noticed and the waiter forgotten); what arrives meanwhile waits in h11's buffer.
"""

from __future__ import annotations

import asyncio
import json
from typing import cast

import h11

from keepwarm.runtime_api.handlers import PARK, Request, Response, dispatch, event_response
from keepwarm.runtime_api.peers import PeerGuard
from keepwarm.runtime_api.state import MAX_PAYLOAD, RuntimeState
from keepwarm.runtimes.event import Event

LOOPBACK = "127.0.0.1"
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 12\r\nConnection: close\r\n\r\nBad Request\n"
)
_SERVER_HEADER = ("Server", "keepwarm")
PARKED_BUFFER = 1 << 20


class RuntimeApiServer:
    """The listener of one environment; ``close`` is synchronous and drops every connection."""

    def __init__(self, state: RuntimeState, guard: PeerGuard | None = None) -> None:
        self.state = state
        self.guard = guard  # who may connect (see peers); None: anyone on the loopback
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> str:
        """Bind an ephemeral loopback port; returns ``host:port`` for AWS_LAMBDA_RUNTIME_API."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), LOOPBACK, 0, reuse_address=True, backlog=16
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return f"{LOOPBACK}:{self.port}"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def verdict(self, conn: _Connection) -> bool | None:
        if self.guard is None or conn.transport is None:
            return True
        peer = conn.transport.get_extra_info("peername")
        return self.guard.admits(self.port, int(peer[1])) if peer else False

    def recheck(self) -> None:
        """Decide the connections that waited for the environment's process to be known."""
        for conn in [c for c in self.connections if c.held]:
            conn.admit()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()


class _Connection(asyncio.Protocol):
    """One runtime connection: feed bytes to h11, run each whole request through ``dispatch``."""

    def __init__(self, server: RuntimeApiServer) -> None:
        self.server = server
        self.h11 = h11.Connection(h11.SERVER)
        self.transport: asyncio.Transport | None = None
        self.request: Request | None = None
        self.body = bytearray()
        self.parked = False
        self.held = True  # read nothing until the server admits this peer

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (``keepwarm serve`` runs on uvloop) do not subclass asyncio's.
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)
        self.admit()

    def admit(self) -> None:
        verdict = self.server.verdict(self)
        if verdict is False:
            self.abort()  # another environment, or any other process: not this runtime
        elif verdict:
            self.held = False
            self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.parked:
            self.server.state.forget(self.on_event)
            self.parked = False
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.h11.receive_data(data)
        if self.parked and len(self.h11.trailing_data[0]) > PARKED_BUFFER:
            self.abort()  # pipelining a flood behind a waiting /next: not a runtime
            return
        self.pump()

    def eof_received(self) -> bool:
        self.h11.receive_data(b"")
        self.pump()
        return False

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- request handling ----------------------------------------------------------------------
    def pump(self) -> None:
        while self.transport is not None and not self.parked and not self.held:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                self._bad_request()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                return
            self._on_h11(event)

    def _on_h11(self, event: object) -> None:
        if isinstance(event, h11.Request):
            self._begin(event)
        elif isinstance(event, h11.Data):
            request = self.request
            if request is not None and not request.oversize:
                self.body += event.data
                if len(self.body) > MAX_PAYLOAD:
                    request.oversize = True
                    self.body = bytearray()
        elif isinstance(event, h11.EndOfMessage) and self.request is not None:
            self.request.body = bytes(self.body)
            self.body = bytearray()
            self._handle(self.request)

    def _begin(self, event: h11.Request) -> None:
        headers = {name.decode("latin-1").lower(): v.decode("latin-1") for name, v in event.headers}
        target = event.target.decode("latin-1")
        self.request = Request(event.method.decode("latin-1"), target, headers)
        self.body = bytearray()
        if self.h11.they_are_waiting_for_100_continue and self.transport is not None:
            self.transport.write(
                self.h11.send(h11.InformationalResponse(status_code=100, headers=[]))
            )

    def _handle(self, request: Request) -> None:
        try:
            result = dispatch(self.server.state, request, self.on_event)
        except Exception as exc:  # a bug in keepwarm: say so, keep serving other connections
            body = json.dumps({"errorType": "Runtime.ServerError", "errorMessage": str(exc)})
            result = Response(500, body.encode(), [("Content-Type", "application/json")])
        if result is PARK:
            self.parked = True  # keep reading: a runtime that hangs up must be noticed
            return
        assert isinstance(result, Response)
        self.send(result)

    def on_event(self, event: Event) -> None:
        """The state delivered an event to this parked ``/next``."""
        if not self.parked or self.transport is None:
            return
        self.parked = False
        self.send(event_response(event))
        asyncio.get_running_loop().call_soon(self.pump)

    def send(self, response: Response) -> None:
        transport = self.transport
        if transport is None:
            return
        head_only = self.request is not None and self.request.method == "HEAD"
        headers = [*response.headers, _SERVER_HEADER]
        headers.append(("Content-Length", str(len(response.body))))
        try:
            out = self.h11.send(h11.Response(status_code=response.status, headers=headers))
            if response.body and not head_only:
                out += self.h11.send(h11.Data(data=response.body))
            out += self.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            transport.abort()
            return
        transport.write(out)
        self.request = None
        if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is h11.MUST_CLOSE:
            transport.close()
            return
        try:
            self.h11.start_next_cycle()
        except h11.LocalProtocolError:
            transport.close()

    def _bad_request(self) -> None:
        if self.transport is None:
            return
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.write(_BAD_REQUEST)
        self.transport.close()
