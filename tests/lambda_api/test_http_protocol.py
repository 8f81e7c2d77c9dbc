"""keepwarm's HTTP protocol (lambda_api/_http.py) holds a response's head until its body; what
must still go out at once does: HEAD responses (no body), ``100 Continue``, error responses,
and every answer on a keep-alive connection, through a real ``keepwarm serve``."""

from __future__ import annotations

import json
import socket
from typing import Any

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
            sock.sendall(b"HEAD /_keepwarm/health HTTP/1.1\r\nHost: x\r\n\r\n")
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
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
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
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
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
