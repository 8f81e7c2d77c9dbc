"""keepwarm's HTTP protocol (lambda_api/_http.py).

It holds a response's head until its body; what must still go out at once does: HEAD responses
(no body), ``100 Continue``, error responses, and every answer on a keep-alive connection,
through a real ``keepwarm serve``. Its head clock closes a client that is slow to send a head,
and never one waiting for a slow answer: checked on a real uvicorn with a short clock. Its body
clock closes a client that stops or dribbles a body, and never a steady upload, a body the
server is not reading yet, or a 50 MB package: checked on a real ``keepwarm serve`` whose clock
is 1 s.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from keepwarm.lambda_api import _http
from keepwarm.lambda_api._http import _Coalescing
from tests.lambda_api.kw_server import ROLE, Server, create, make_zip


def _read_responses(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` responses in a row (several may arrive in one read)."""
    data = b""
    out: list[tuple[bytes, bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
        out.append((head, data[:length]))
        data = data[length:]
    return out


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    return _read_responses(sock, 1)[0]


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


# -- the body clock, on a real ``keepwarm serve`` ------------------------------------------------
BODY_CLOCK_S = 1.0
SLEEPER = (
    "import time\n\n"
    "def handler(event, context):\n    time.sleep(event['sleep'])\n    return event\n"
)


class _ShortBodyClock(Server):
    """``keepwarm serve`` itself, with ``_http.BODY_TIMEOUT_S`` at 1 s instead of 30."""

    def command(self) -> list[str]:
        patch = (
            "import runpy, keepwarm.lambda_api._http as h; "
            f"h.BODY_TIMEOUT_S = {BODY_CLOCK_S}; "
            "runpy.run_module('keepwarm.cli.main', run_name='__main__')"
        )
        return [sys.executable, "-c", patch, *super().command()[3:]]


@pytest.fixture
def short_body_clock(tmp_path: Path) -> Iterator[Server]:
    server = _ShortBodyClock(tmp_path / "data", "--async-time-scale", "0.001")
    try:
        yield server.start()
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


def _post_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_body_that_stops_coming_is_closed(short_body_clock: Server) -> None:
    """A head promising 1 MB, then 10 bytes and silence: the connection and its buffered body
    used to be held for as long as the client liked."""
    for path in ("/2015-03-31/functions", "/2015-03-31/functions/nope/invocations"):
        with socket.create_connection(("127.0.0.1", short_body_clock.port), timeout=10) as sock:
            sock.sendall(_post_head(path, 1_000_000) + b'{"Functio')
            assert _closed_within(sock, BODY_CLOCK_S * 20), path
    assert "internal error" not in short_body_clock.stderr()


def test_a_dribbled_body_is_closed(short_body_clock: Server) -> None:
    """A byte every 50 ms keeps making progress, far below the rate floor: still closed."""
    with socket.create_connection(("127.0.0.1", short_body_clock.port), timeout=10) as sock:
        sock.sendall(_post_head("/2015-03-31/functions", 1_000_000))
        deadline = time.monotonic() + BODY_CLOCK_S * 20
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                sock.sendall(b" ")
            except OSError:  # reset: the server closed it
                closed = True
                break
            closed = _closed_within(sock, 0.05)
        assert closed, "a dribbling client held the connection"


def test_a_steady_upload_longer_than_the_clock_is_not_cut(short_body_clock: Server) -> None:
    """256 KiB/s for three clock lengths: above the rate floor, so the deadline keeps growing."""
    lam = short_body_clock.client()
    create(lam, "sleeper", SLEEPER)
    chunk = 32 * 1024
    chunks = int(BODY_CLOCK_S * 3 * 256 * 1024 / chunk)
    payload = json.dumps({"sleep": 0, "pad": "x" * (chunks * chunk - 30)}).encode()
    with socket.create_connection(("127.0.0.1", short_body_clock.port), timeout=30) as sock:
        sock.sendall(_post_head("/2015-03-31/functions/sleeper/invocations", len(payload)))
        start = time.monotonic()
        for i in range(0, len(payload), chunk):
            sock.sendall(payload[i : i + chunk])
            pause = start + (i + chunk) / (256 * 1024) - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # paces the upload (a slow link), not a race
        head, body = _read_response(sock)
    assert time.monotonic() - start > BODY_CLOCK_S * 2
    assert head.startswith(b"HTTP/1.1 200 ") and json.loads(body)["sleep"] == 0


def test_a_body_waiting_behind_a_long_invocation_is_not_timed(short_body_clock: Server) -> None:
    """Pipelined: the second request's head arrives while the first runs (for four clock
    lengths), its body after one clock length. The server does not read while the first runs,
    so that wait is not the client's; the first answer is not cut either."""
    lam = short_body_clock.client()
    create(lam, "sleeper", SLEEPER, Timeout=60)
    path = "/2015-03-31/functions/sleeper/invocations"
    first = json.dumps({"sleep": BODY_CLOCK_S * 4}).encode()
    second = json.dumps({"sleep": 0, "n": 2}).encode()
    with socket.create_connection(("127.0.0.1", short_body_clock.port), timeout=60) as sock:
        sock.sendall(_post_head(path, len(first)) + first + _post_head(path, len(second)))
        time.sleep(BODY_CLOCK_S * 1.5)  # let the body clock run out, were it running
        sock.sendall(second)
        answers = _read_responses(sock, 2)
    assert [head.split(b"\r\n")[0] for head, _ in answers] == [b"HTTP/1.1 200 OK"] * 2
    assert [json.loads(body) for _, body in answers] == [json.loads(first), json.loads(second)]


def test_a_50_mb_package_uploads_under_a_short_clock(short_body_clock: Server) -> None:
    """CreateFunction's largest package (50 MB zipped, ~67 MB as base64 JSON) over loopback."""
    rng = random.Random(7)

    def filler(zf: zipfile.ZipFile) -> None:
        zf.writestr(
            zipfile.ZipInfo("blob.bin"), rng.randbytes(49 * 1024 * 1024), zipfile.ZIP_STORED
        )

    package = make_zip({"app.py": SLEEPER}, extra=filler)
    assert 49 * 1024 * 1024 < len(package) <= 50 * 1024 * 1024
    lam = short_body_clock.client()
    out = lam.create_function(
        FunctionName="big",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package},
    )
    assert out["CodeSize"] == len(package)
