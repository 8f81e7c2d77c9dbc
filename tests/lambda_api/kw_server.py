"""A real ``keepwarm serve`` subprocess on an ephemeral 127.0.0.1 port, and helpers around it.

Shared by tests/lambda_api, tests/asyncq and tests/e2e (their conftests import the fixtures).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/keepwarm-test"
READY_TIMEOUT = 60.0


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll until ``predicate()`` is truthy (no fixed sleeps); fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def make_zip(
    files: dict[str, str], extra: Callable[[zipfile.ZipFile], None] | None = None
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        if extra is not None:
            extra(zf)
    return buf.getvalue()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc), whatever process group it moved to."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Server:
    """One ``keepwarm serve`` process; ``start`` waits for readiness by polling."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.printed = ""
        self.known_children: set[int] = set()
        self.stderr_path = data_dir.parent / f"{data_dir.name}-stderr.log"

    @property
    def url(self) -> str:
        """The endpoint the server printed (``http://127.0.0.1:PORT`` unless ``--host``)."""
        return self.printed or f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "keepwarm.cli.main",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]

    def start(self) -> Server:
        lines: queue.Queue[bytes] = queue.Queue()
        stderr = open(self.stderr_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=self.env,
            start_new_session=True,
        )
        stderr.close()
        out = self.proc.stdout
        assert out is not None
        threading.Thread(
            target=lambda: [lines.put(x) for x in iter(out.readline, b"")], daemon=True
        ).start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.port:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.stderr()}")
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic())).decode()
            except queue.Empty:
                raise AssertionError(f"server not ready: {self.stderr()}") from None
            if "listening on http://" in line:
                self.printed = line.strip().split("listening on ", 1)[1]
                self.port = int(self.printed.rsplit(":", 1)[1])
        wait_for(self.healthy, timeout=READY_TIMEOUT)
        return self

    def healthy(self) -> bool:
        try:
            host = urlsplit(self.url).hostname or "127.0.0.1"
            conn = http.client.HTTPConnection(host, self.port, timeout=5)
            conn.request("GET", "/_keepwarm/health")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text()[-4000:]
        except OSError:
            return ""

    def client(self, **kwargs: Any) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"max_attempts": 0}, read_timeout=120, **kwargs),
        )

    def snapshot_children(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.known_children |= descendants(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Signal the server, wait, and assert it left no process behind."""
        assert self.proc is not None
        self.snapshot_children()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"server ignored signal {sig}: {self.stderr()}") from None
        leaked = wait_for_gone(self.known_children)
        assert not leaked, f"processes left behind: {leaked}"
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


def wait_for_gone(pids: set[int], timeout: float = 15.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = {p for p in pids if alive(p)}
        if not left or time.monotonic() > deadline:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            return left
        time.sleep(0.02)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start_server(*args, data_dir=..., env=...)``; every server is stopped (and checked for
    leaked processes) at teardown."""
    servers: list[Server] = []

    def start(
        *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> Server:
        server = Server(data_dir or tmp_path / f"data{len(servers)}", *args, env=env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server("--async-time-scale", "0.001")


@pytest.fixture
def lam(server: Server) -> Any:
    return server.client()


@pytest.fixture
def serve_proc(start_server: Callable[..., Server]) -> Server:
    """``server`` under a name that cannot shadow the suite-wide ``server`` (a ServerConfig)."""
    return start_server("--async-time-scale", "0.001")


@pytest.fixture
def serve_lam(serve_proc: Server) -> Any:
    return serve_proc.client()


COUNTER = """
import os
count = 0

def handler(event, context):
    global count
    count += 1
    cc = context.client_context.custom if context.client_context else None
    return {"count": count, "pid": os.getpid(), "event": event, "cc": cc,
            "version": os.environ.get("CODE_VERSION", "1"), "env": dict(
                (k, v) for k, v in os.environ.items() if k.startswith("MY_"))}
"""


def create(lam: Any, name: str, source: str = COUNTER, **kwargs: Any) -> dict[str, Any]:
    """CreateFunction + the ``function_active_v2`` waiter."""
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip({"app.py": source})},
    }
    params.update(kwargs)
    out: dict[str, Any] = lam.create_function(**params)
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
    )
    return out
