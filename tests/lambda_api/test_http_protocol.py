"""keepwarm's HTTP protocol (lambda_api/_http.py).

It holds a response's head until its body; what must still go out at once does: HEAD responses
(no body), ``100 Continue``, error responses, and every answer on a keep-alive connection,
through a real ``keepwarm serve``. Its head clock closes a client that is slow to send a head,
and never one waiting for a slow answer: checked on a real uvicorn with a short clock.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from keepwarm.lambda_api import _http
from keepwarm.lambda_api._http import _Coalescing


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_head_response_is_not_held_back(server: Any) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):  # keep-alive: each answer arrives before the next request
            sock.sendall(b"HEAD /_keepwarm/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                assert chunk
                data += chunk
            assert data.startswith(b"HTTP/1.1 ")


def test_100_continue_goes_out_before_the_body_is_sent(server: Any) -> None:
    body = json.dumps({"padding": "x" * 2000}).encode()
    path = "/2015-03-31/functions/nope/invocations"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")
        sock.sendall(body)
        head, answer = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 404 ")
    assert json.loads(answer)["Type"] == "User"


def test_many_answers_on_one_connection(server: Any) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for i in range(20):
            path = "/2015-03-31/functions" if i % 2 else "/no/such/route"
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 " if i % 2 else b"HTTP/1.1 404 ")
            assert json.loads(body)


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_head_and_body_leave_in_one_write() -> None:
    rec = _Recorder()
    t = _Coalescing(rec)
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: at once
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert rec.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    t.write(b"{}")
    t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    t.flush()  # a response without a body write (HEAD, 204): flushed when it completes
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.close()  # nothing held is lost on close
    assert rec.writes[1:] == [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
    ]
    assert rec.closed and t.is_closing()  # the rest is forwarded to the transport


HEAD_CLOCK_S = 0.3


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":  # answers well after the head clock would have run out
        await asyncio.sleep(HEAD_CLOCK_S * 4)
    body = scope["path"].encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def short_clock_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A real uvicorn with keepwarm's protocol and a 0.3 s head clock (keep-alive 60 s, so a
    closed connection can only be the head clock's doing)."""
    monkeypatch.setattr(_http, "HEAD_TIMEOUT_S", HEAD_CLOCK_S)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _app,
        http=_http.BoundedHttpToolsProtocol,
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(10)
    return sock.recv(1) == b""


def test_a_slow_answer_is_not_cut_by_the_head_clock(short_clock_port: int) -> None:
    with socket.create_connection(("127.0.0.1", short_clock_port), timeout=10) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, body = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 200 ") and body == b"/slow"


def test_pipelined_requests_behind_a_slow_one_are_all_answered(short_clock_port: int) -> None:
    with socket.create_connection(("127.0.0.1", short_clock_port), timeout=10) as sock:
        sock.sendall(
            b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        data = b""
        while data.count(b"HTTP/1.1 200 ") < 2 or not data.endswith(b"/next"):
            chunk = sock.recv(65536)
            assert chunk, f"closed after {data!r}"
            data += chunk
    assert data.index(b"/slow") < data.index(b"/next")


def test_a_dribbled_head_is_closed(short_clock_port: int) -> None:
    with socket.create_connection(("127.0.0.1", short_clock_port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost")
        assert _closed_by_server(sock)


def test_a_connection_idle_after_its_answer_is_closed(short_clock_port: int) -> None:
    with socket.create_connection(("127.0.0.1", short_clock_port), timeout=10) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _read_response(sock)[1] == b"/slow"
        assert _closed_by_server(sock)


def test_a_busy_keep_alive_connection_outlives_the_head_clock(short_clock_port: int) -> None:
    with socket.create_connection(("127.0.0.1", short_clock_port), timeout=10) as sock:
        answered = 0
        end = time.monotonic() + HEAD_CLOCK_S * 5
        while time.monotonic() < end:  # back to back, for five clock lengths
            sock.sendall(b"GET /quick HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _read_response(sock)[1] == b"/quick", f"closed after {answered} answers"
            answered += 1
    assert answered > 5


def test_a_head_over_the_bound_is_refused_even_in_one_write(server: Any) -> None:
    """The bound used to allow one read of slack (up to 256 KB) on top of MAX_HEAD."""
    big = b"x" * (_http.MAX_HEAD + 4096)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"GET /_keepwarm/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + big + b"\r\n\r\n"
        )
        head, _ = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 431")
