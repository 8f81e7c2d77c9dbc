"""Latency and throughput of the HTTP floors: the bare ASGI echo (bench/echo_server.py) and the
two-process forwarder (bench/forwarder.py).

Why clients in separate processes for throughput: one Python process with four threads
measures its own GIL, not the server.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from bench.common import NOOP, code_dir, summary

_CLIENT = """
import http.client, sys, time
port, seconds, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port)
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    conn.request("POST", path, body=b"{}", headers={"content-type": "application/json"})
    conn.getresponse().read()
    n += 1
print(n)
"""
INVOKE_PATH = "/2015-03-31/functions/noop/invocations"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def _server(module: str, *args: str) -> Iterator[int]:
    """``python -m module PORT *args`` on a free port, until the block ends."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", module, str(port), *args])
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def echo_server() -> AbstractContextManager[int]:
    return _server("bench.echo_server")


def forwarder_server() -> AbstractContextManager[int]:
    """bench/forwarder.py: real runtimes behind the thinnest possible server."""
    return _server("bench.forwarder", str(code_dir("noop", NOOP)))


def http_latency(port: int, n: int, path: str = INVOKE_PATH) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    out = []
    for i in range(n + 50):
        t = time.perf_counter_ns()
        conn.request("POST", path, body=b"{}", headers={"content-type": "application/json"})
        conn.getresponse().read()
        if i >= 50:
            out.append((time.perf_counter_ns() - t) / 1e6)
    conn.close()
    return out


def boto3_latency(port: int, n: int, function: str = "noop", warmup: int = 20) -> list[float]:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}, read_timeout=60),
    )
    out = []
    for i in range(n + warmup):
        t = time.perf_counter_ns()
        client.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()
        if i >= warmup:
            out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def throughput(port: int, concurrency: int = 4, seconds: float = 3.0) -> float:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLIENT, str(port), str(seconds), INVOKE_PATH],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(concurrency)
    ]
    total = sum(int(p.communicate()[0].strip() or 0) for p in procs)
    return total / seconds


def run(n: int) -> dict[str, Any]:
    with echo_server() as port:
        out = {
            "echo_http": summary(http_latency(port, n)),
            "echo_boto3": summary(boto3_latency(port, max(n // 4, 200))),
        }
    with forwarder_server() as port:
        http_latency(port, 100)
        out["forwarder_http"] = summary(http_latency(port, n))
    return out
