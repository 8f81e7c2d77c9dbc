"""uvicorn's httptools protocol with two bounds it lacks, header size and header time, and
responses written in one piece.

Why: httptools buffers a request's headers without limit and waits for them forever, so one
client sending an 8 MB header, or hundreds dribbling headers a byte at a time (slowloris), costs
the server memory and connections for as long as they like. Here a request whose head (request
line plus headers) passes ``MAX_HEAD`` bytes gets a 431 and is closed, and a connection that has
not finished sending a head ``HEAD_TIMEOUT_S`` after it opened, or after its last answer, is
closed. A response's head is held until its body (see ``_Coalescing``). Everything else is
uvicorn's.
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
    """The head clock runs only while the server waits for the client: from the connection's
    start, or from the last answer, until a request's head is complete. An invocation that
    takes minutes to answer is the server's time, not the client's.

    One timer per connection, re-armed only when it fires: arming a fresh timer per request
    (and cancelling it) cost ~2 µs of every request on a keep-alive connection.
    """

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._coalescing = _Coalescing(transport)
        self.transport = cast(asyncio.Transport, self._coalescing)  # forwards the rest
        self._head_seen = 0
        self._head_open = True
        self._unanswered = 0  # requests whose head arrived and whose answer is not yet sent
        self._head_timer: asyncio.TimerHandle | None = None
        self._start_head_clock()

    def _start_head_clock(self) -> None:
        self._head_since = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._check_head)

    def _check_head(self) -> None:
        self._head_timer = None
        if not self._head_open or self._unanswered or self.transport.is_closing():
            return  # not waiting for the client; the clock restarts when it is
        left = self._head_since + HEAD_TIMEOUT_S - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self._head_timer = self.loop.call_later(left, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            end = data.find(b"\r\n\r\n")  # the head may end inside this chunk, a body after it
            if self._head_seen + (len(data) if end < 0 else end + 4) > MAX_HEAD:
                self._refuse()
                return
            self._head_seen += len(data)
        super().data_received(data)

    def _refuse(self) -> None:
        self._head_open = False
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(_TOO_LARGE)}\r\nconnection: close\r\n\r\n".encode()
            + _TOO_LARGE
        )
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._unanswered += 1
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._coalescing.flush()
        self._unanswered = max(0, self._unanswered - 1)
        if self._head_open and not self._unanswered:
            self._start_head_clock()
        super().on_response_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open, self._head_seen = True, 0  # the next request on this connection
        if not self._unanswered:  # answered before its body was read (an early error)
            self._start_head_clock()
