"""Load over the real HTTP API: 20,000 invocations at concurrency 32 against a mix of functions,
then hostile clients (slowloris, oversized headers) while a normal client keeps being answered.

Only 127.0.0.1, bounded in count and time. Intended outcomes only: results, function errors of
the function that raises, and 429s of the function with reserved concurrency 2; nothing else.
The server's memory after the run is compared with its memory after a warm-up.
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

TOTAL = 20_000
WARMUP = 2_000
CONCURRENCY = 32
FUNCTIONS = {
    "echo": ("def handler(e, c):\n    return e\n", None),
    "work": ("def handler(e, c):\n    return sum(i * i for i in range(2000))\n", None),
    "fail": ("def handler(e, c):\n    raise ValueError('intended')\n", None),
    "tight": ("import time\n\ndef handler(e, c):\n    time.sleep(0.02)\n    return 1\n", 2),
}
MIX = ["echo"] * 12 + ["work"] * 5 + ["fail"] + ["tight"] * 2


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _setup(srv: Any) -> None:
    from kw_server import create

    lam = srv.client()
    for name, (source, reserved) in FUNCTIONS.items():
        create(lam, name, source)
        if reserved is not None:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


async def _storm(url: str, count: int, offset: int) -> dict[str, Any]:
    outcomes: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(offset, offset + count):
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                name = MIX[n % len(MIX)]
                t0 = time.perf_counter()
                response = await client.post(
                    f"/2015-03-31/functions/{name}/invocations", content=json.dumps({"n": n})
                )
                latencies.append(time.perf_counter() - t0)
                if response.status_code == 200 and "x-amz-function-error" in response.headers:
                    outcomes[f"{name}:function-error"] += 1
                elif response.status_code == 200:
                    if name == "echo":
                        assert response.json() == {"n": n}
                    outcomes[f"{name}:ok"] += 1
                else:
                    code = response.headers.get("x-amzn-errortype", "")
                    outcomes[f"{name}:{response.status_code}:{code}"] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "outcomes": dict(sorted(outcomes.items())),
        "seconds": round(elapsed, 2),
        "per_second": round(count / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def test_twenty_thousand_invocations_at_concurrency_32(start_server: Any) -> None:
    srv = start_server()
    _setup(srv)
    warm = asyncio.run(_storm(srv.url, WARMUP, 0))
    rss_warm = _rss_mb(srv.proc.pid)
    run = asyncio.run(_storm(srv.url, TOTAL, WARMUP))
    rss_after = _rss_mb(srv.proc.pid)
    print(
        f"\nLOAD warm-up {warm}\nLOAD run {run}\nLOAD server RSS MB: after warm-up "
        f"{rss_warm:.1f}, after {TOTAL} more {rss_after:.1f}"
    )
    allowed = {
        "echo:ok",
        "work:ok",
        "fail:function-error",
        "tight:ok",
        "tight:429:TooManyRequestsException",
    }
    assert set(run["outcomes"]) <= allowed, run["outcomes"]
    assert sum(run["outcomes"].values()) == TOTAL
    assert run["outcomes"]["fail:function-error"] == TOTAL // len(MIX)
    assert rss_after - rss_warm < 40, (rss_warm, rss_after)


def _normal_call(port: int) -> float:
    """A fresh connection and one request (a cheap GET): seconds until the answer."""
    t0 = time.perf_counter()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
        assert client.get("/2015-03-31/functions").status_code == 200
    return time.perf_counter() - t0


def test_slow_and_oversized_clients_do_not_block_others(start_server: Any) -> None:
    srv = start_server()
    request = b"GET /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 64
    slow: list[socket.socket] = []
    answered: list[float] = []
    outcomes: collections.Counter[str] = collections.Counter()
    try:
        for _ in range(300):  # slowloris: 300 connections, each dribbling its headers
            sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            sock.sendall(request[:10])
            slow.append(sock)
        deadline = time.monotonic() + 6
        offset = 10
        while time.monotonic() < deadline:  # one more byte on every connection, ~10 per second
            for sock in slow:
                try:
                    sock.send(request[offset : offset + 1])
                except OSError:
                    outcomes["slow connection closed by server"] += 1
            offset += 1
            answered.append(_normal_call(srv.port))
        for size in (60 * 1024, 1024 * 1024, 8 * 1024 * 1024):  # oversized headers
            outcomes[f"{size}-byte header: {_oversized(srv.port, size)}"] += 1
            answered.append(_normal_call(srv.port))
    finally:
        for sock in slow:
            sock.close()
    print(
        f"\nLOAD hostile clients: {dict(outcomes)}; normal calls {len(answered)}, slowest "
        f"{max(answered) * 1000:.0f} ms"
    )
    assert max(answered) < 5.0  # generous: a normal client is never held up
    assert outcomes["61440-byte header: HTTP/1.1 200 OK"] == 1  # big, but under the bound
    for size in (1024 * 1024, 8 * 1024 * 1024):  # refused early (431, then closed mid-send)
        assert (
            outcomes[f"{size}-byte header: HTTP/1.1 431 Request Header Fields Too Large"]
            + outcomes[f"{size}-byte header: connection ConnectionResetError"]
            + outcomes[f"{size}-byte header: connection BrokenPipeError"]
        ) == 1, outcomes
    assert srv.proc.poll() is None


def _oversized(port: int, size: int) -> str:
    """What the server does with a request whose one header is ``size`` bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = b"GET /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
        try:
            sock.sendall(head + b"b" * size + b"\r\n\r\n")
            reply = sock.recv(64)
        except OSError as exc:
            return f"connection {type(exc).__name__}"
    return reply.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
