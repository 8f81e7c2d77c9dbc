"""The Runtime API server over real sockets: HTTP/1.1 keep-alive, long-poll, limits, garbage.

The server runs on its own event-loop thread, as inside keepwarm; the tests are its clients
(``http.client`` and raw sockets). Waiting is on conditions, never on sleeps.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepwarm.runtime_api.server import RuntimeApiServer
from keepwarm.runtime_api.state import MAX_PAYLOAD, RuntimeState
from keepwarm.runtimes.event import Event
from tests.helpers import wait_for
from tests.runtime_api.conftest import RecordingSink

P = "/2018-06-01/runtime"


class Served:
    """A RuntimeApiServer on a private loop thread, with a recording sink."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sink = RecordingSink()
        self.state = RuntimeState(self.sink)
        self.loop = loop
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = RuntimeApiServer(self.state)
        address = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.host, port = address.split(":")
        self.port = int(port)

    def on_loop(self, fn: Any, *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def deliver(self, rid: str = "rid-1", **extra: Any) -> None:
        self.on_loop(
            self.state.deliver, Event(rid, 1_800_000_000_000, "arn:f", b'{"k":1}', **extra)
        )

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def raw(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=30)

    def close(self) -> None:
        self.on_loop(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(params=["asyncio", "uvloop"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """Both loops keepwarm runs on: asyncio's (the Python API) and uvloop (``keepwarm serve``)."""
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    s = Served(loop)
    try:
        yield s
    finally:
        s.close()


def get_next_in_thread(conn: http.client.HTTPConnection) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            conn.request("GET", f"{P}/invocation/next")
            response = conn.getresponse()
            out.append((response.status, dict(response.getheaders()), response.read()))
        except (OSError, http.client.HTTPException) as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def parked_next(served: Served, conn: http.client.HTTPConnection, nexts: int = 1) -> list[Any]:
    """GET /next, wait until the server has it parked, deliver, return what the client got."""
    thread, out = get_next_in_thread(conn)
    wait_for(lambda: served.sink.kinds().count("next") == nexts, 10, "/next to arrive")
    served.deliver(f"rid-{nexts}")
    thread.join(10)
    return out


def test_binds_loopback_only(served: Served) -> None:
    assert served.host == "127.0.0.1"


def test_long_poll_then_keep_alive_response_and_next_again(served: Served) -> None:
    conn = served.connect()
    [(status, headers, body)] = parked_next(served, conn)
    assert (status, body) == (200, b'{"k":1}')
    assert headers["Content-Type"] == "application/json"
    assert headers["Lambda-Runtime-Aws-Request-Id"] == "rid-1"
    assert headers["Lambda-Runtime-Deadline-Ms"] == "1800000000000"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == "arn:f"
    assert "Lambda-Runtime-Trace-Id" not in headers
    conn.request(
        "POST",
        f"{P}/invocation/rid-1/response",
        body=b'"ok"',
        headers={"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    assert (response.status, response.read()) == (202, b'{"status": "OK"}')
    [(status, _, _)] = parked_next(served, conn, nexts=2)  # same connection, still alive
    assert status == 200
    assert served.sink.kinds() == ["next", "response", "next"]
    conn.close()


def test_oversize_response_gets_413_and_exact_limit_passes(served: Served) -> None:
    conn = served.connect()
    parked_next(served, conn)
    conn.request("POST", f"{P}/invocation/rid-1/response", body=b"x" * (MAX_PAYLOAD + 1))
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["errorType"] == "RequestEntityTooLarge"
    assert b"Function.ResponseSizeTooLarge" in served.sink.calls[-1][2]
    parked_next(served, conn, nexts=2)
    conn.request("POST", f"{P}/invocation/rid-2/response", body=b"x" * MAX_PAYLOAD)
    assert conn.getresponse().status == 202
    assert len(served.sink.calls[-1][2]) == MAX_PAYLOAD


def test_expect_100_continue_is_answered(served: Served) -> None:
    conn = served.connect()
    parked_next(served, conn)
    with served.raw() as sock:
        sock.sendall(
            f"POST {P}/invocation/rid-1/error HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100")
        sock.sendall(b"{}")
        assert sock.recv(1000).startswith(b"HTTP/1.1 202")


def test_close_drops_a_parked_next(served: Served) -> None:
    conn = served.connect()
    thread, out = get_next_in_thread(conn)
    wait_for(lambda: served.sink.kinds() == ["next"], 10, "/next to arrive")
    served.on_loop(served.server.close)
    thread.join(10)
    assert not thread.is_alive()
    assert [type(x) for x in out] == [http.client.RemoteDisconnected]  # the connection went


def test_a_parked_next_that_disconnects_is_forgotten(served: Served) -> None:
    with served.raw() as sock:
        sock.sendall(f"GET {P}/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for(lambda: served.sink.kinds() == ["next"], 10, "/next to arrive")
    wait_for(lambda: not served.on_loop(lambda: served.state._listeners), 10, "forget")
    served.deliver()  # nobody to serve; the event waits for the next /next
    conn = served.connect()
    conn.request("GET", f"{P}/invocation/next")
    response = conn.getresponse()
    assert response.getheader("Lambda-Runtime-Aws-Request-Id") == "rid-1"
    response.read()
    conn.close()


def exchange(served: Served, data: bytes) -> bytes:
    with served.raw() as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


GARBAGE = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda m, t, h, b: m + b" " + t + b" HTTP/1.1\r\n" + h + b"\r\n" + b,
        st.sampled_from([b"GET", b"POST", b"PUT", b"G\x00T", b""]),
        st.sampled_from(
            [
                f"{P}/invocation/next".encode(),
                f"{P}/init/error".encode(),
                f"{P}/invocation/x/response".encode(),
                b"/%%",
                b"*",
                b"",
            ]
        ),
        st.sampled_from(
            [
                b"Host: x\r\n",
                b"Content-Length: 5\r\n",
                b"Content-Length: -1\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"Bad Header\r\n",
                b"Content-Length: 1\r\nContent-Length: 2\r\n",
                b"",
            ]
        ),
        st.binary(max_size=50),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=GARBAGE)
def test_garbage_never_gets_a_5xx(served: Served, data: bytes) -> None:
    if data.startswith(b"GET " + f"{P}/invocation/next".encode()) and served.state.state.value in (
        "Started",
        "Ready",
        "ResponseSent",
    ):
        return  # a well-formed /next would park until an event comes: not garbage
    reply = exchange(served, data)
    for line in reply.split(b"\r\n"):
        if line.startswith(b"HTTP/1.1 "):
            assert not line[9:].startswith(b"5"), reply
