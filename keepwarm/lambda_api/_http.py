"""uvicorn's httptools protocol with the bounds it lacks, on header size, header time and body
time, and responses written in one piece.

Why: httptools buffers a request's headers without limit and waits for them, and for a body,
forever, so one client sending an 8 MB header, or hundreds dribbling headers a byte at a time
(slowloris), or a head promising a large body that never comes (slow POST), costs the server
memory and connections for as long as they like. Here a request whose head (request line plus
headers) passes ``MAX_HEAD`` bytes gets a 431 and is closed; a connection that has not finished
sending a head ``HEAD_TIMEOUT_S`` after it opened, or after its last answer, is closed; and so is
one whose body is not complete ``BODY_TIMEOUT_S`` after its head, plus one second for every
``BODY_MIN_RATE`` bytes of it received. A response's head is held until its body (see
``_Coalescing``). Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD = 64 * 1024
HEAD_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 30.0
BODY_MIN_RATE = 64 * 1024  # bytes/s: 512 kbit/s, which any real uplink beats
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


class _Flow(FlowControl):
    """uvicorn's flow control, telling the protocol when reading pauses or resumes."""

    def __init__(self, transport: Any, changed: Callable[[], None]) -> None:
        super().__init__(transport)
        self._changed = changed

    def pause_reading(self) -> None:
        if not self.read_paused:
            super().pause_reading()
            self._changed()

    def resume_reading(self) -> None:
        if self.read_paused:
            super().resume_reading()
            self._changed()


class _ClientClock:
    """The loop's time, stopped while the server is not waiting for the client's body: while
    an earlier request on the connection is still being answered (uvicorn even reads on then),
    or while reading is paused (the app has not yet taken what was read)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stopped_at: float | None = None
        self._stopped_for = 0.0

    def run(self, running: bool) -> None:
        if running == (self._stopped_at is None):
            return
        now = self._loop.time()
        if self._stopped_at is not None:
            self._stopped_for += now - self._stopped_at
            self._stopped_at = None
        else:
            self._stopped_at = now

    def now(self) -> float:
        stopped = self._stopped_at
        return (self._loop.time() if stopped is None else stopped) - self._stopped_for


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """The clocks run only while the server waits for the client. The head clock: from the
    connection's start, or from the last answer, until a request's head is complete. The body
    clock: from a head's end until its body's, stopped while the server has no use for the body
    yet (``_ClientClock``). An invocation that takes minutes to answer is the server's time, not
    the client's.

    Why a body deadline that grows with what arrived, rather than a fixed total or an idle
    timeout: a fixed total cuts a large upload on a slow link, and an idle timeout lets a client
    sending a byte every few seconds hold the connection for ever; here every second held past
    the first ``BODY_TIMEOUT_S`` costs the client ``BODY_MIN_RATE`` bytes sent.

    One timer per connection, for both clocks, re-armed when it fires (or when a clock starts
    that ends before it): arming a fresh timer per request (and cancelling it) cost ~2 µs of
    every request on a keep-alive connection.
    """

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._clock = _ClientClock(self.loop)
        self.flow = _Flow(transport, self._clock_runs_if_waiting)
        self._coalescing = _Coalescing(transport)
        self.transport = cast(asyncio.Transport, self._coalescing)  # forwards the rest
        self._head_seen = 0
        self._head_open = True
        self._unanswered = 0  # requests whose head arrived and whose answer is not yet sent
        self._body_open = False  # a head is complete, its body is not
        self._body_since: float | None = None  # client time when the body clock started
        self._body_got = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._start_head_clock()

    def _clock_runs_if_waiting(self) -> None:
        self._clock.run(self._unanswered <= 1 and not self.flow.read_paused)

    def _arm(self, at: float) -> None:
        """Have the timer fire by ``at`` (it checks, and re-arms itself if it is early)."""
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer, self._timer_at = self.loop.call_at(at, self._check), at

    def _start_head_clock(self) -> None:
        self._head_since = self.loop.time()
        self._arm(self._head_since + HEAD_TIMEOUT_S)

    def _left(self) -> float | None:
        """Seconds until the clock that runs now ends; None when the server is not waiting."""
        if self._body_open and self._body_since is not None:
            allowed = BODY_TIMEOUT_S + self._body_got / BODY_MIN_RATE
            return self._body_since + allowed - self._clock.now()
        if self._head_open and not self._unanswered:
            return self._head_since + HEAD_TIMEOUT_S - self.loop.time()
        return None  # answering: the clock restarts when the server waits again

    def _check(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        left = self._left()
        if left is None:
            return
        if left <= 0:
            self.transport.close()
        else:
            self._arm(self.loop.time() + left)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            end = data.find(b"\r\n\r\n")  # the head may end inside this chunk, a body after it
            if self._head_seen + (len(data) if end < 0 else end + 4) > MAX_HEAD:
                self._refuse()
                return
            self._head_seen += len(data)
        elif self._body_open:
            self._body_got += len(data)
        super().data_received(data)
        if self._body_open and self._body_since is None:  # a body still to come: time it
            self._body_since = self._clock.now()
            self._arm(self.loop.time() + BODY_TIMEOUT_S)

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
        self._body_open, self._body_since, self._body_got = True, None, 0
        super().on_headers_complete()
        if self._unanswered > 1:  # pipelined behind one still being answered
            self._clock.run(False)

    def on_response_complete(self) -> None:
        self._coalescing.flush()
        self._unanswered = max(0, self._unanswered - 1)
        if self._unanswered == 1:  # the pipelined request is up next
            self._clock_runs_if_waiting()
        if self._head_open and not self._unanswered:
            self._start_head_clock()
        super().on_response_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._body_open = False
        self._head_open, self._head_seen = True, 0  # the next request on this connection
        if not self._unanswered:  # answered before its body was read (an early error)
            self._start_head_clock()
