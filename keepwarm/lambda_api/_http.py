"""uvicorn's httptools protocol with two bounds it lacks, header size and header time, and
responses written in one piece.

Why: httptools buffers a request's headers without limit and waits for them forever, so one
client sending an 8 MB header, or hundreds dribbling headers a byte at a time (slowloris), costs
the server memory and connections for as long as they like. Here a request whose head (request
line plus headers) passes ``MAX_HEAD`` bytes gets a 431 and is closed, and a connection that has
not finished sending its head within ``HEAD_TIMEOUT_S`` is closed. A response's head is held
until its body (see ``_Coalescing``). Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD = 64 * 1024
HEAD_TIMEOUT_S = 30.0
_TOO_LARGE = b'{"message": "Request header fields too large."}'


def _is_final_head(data: bytes) -> bool:
    return (
        data.startswith(b"HTTP/1.1 ")
        and not data.startswith(b"HTTP/1.1 1")
        and data.endswith(b"\r\n\r\n")
    )


class _Coalescing:
    """A transport that holds a response's status line and headers until its first body write.

    uvicorn writes the head and the body separately; the client may wake for the head alone,
    and on two busy vCPUs that wake-up preempts the server before it writes the body (measured:
    ~20 µs of a warm HTTP invoke). Interim ``1xx`` heads (``100 Continue``) are never held, and
    the protocol flushes a held head when the response completes (a HEAD response has no body).
    """

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._held = b""

    def write(self, data: bytes) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        elif _is_final_head(data):
            self._held = data
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._coalescing = _Coalescing(transport)
        self.transport = cast(asyncio.Transport, self._coalescing)  # forwards the rest
        self._head_seen = 0
        self._head_open = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(HEAD_TIMEOUT_S, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        if self._head_open and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            # One chunk of slack: a chunk may hold the end of the head and the start of a body.
            if self._head_seen > MAX_HEAD:
                self._refuse()
                return
            self._head_seen += len(data)
        super().data_received(data)

    def _refuse(self) -> None:
        self._head_open = False
        self._disarm()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(_TOO_LARGE)}\r\nconnection: close\r\n\r\n".encode()
            + _TOO_LARGE
        )
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._coalescing.flush()
        super().on_response_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open, self._head_seen = True, 0  # the next request on this connection
        self._arm()
