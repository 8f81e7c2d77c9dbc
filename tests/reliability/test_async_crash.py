"""Crash-safe async invocations: ``kill -9`` the server 10 times while 10,000 Event invocations are
queued or running; after each restart the queue resumes; every accepted event runs at least
once; the SQLite store passes ``PRAGMA integrity_check``.

"Accepted" means the client got its 202 (with the event's request id): the store commits with
``synchronous=FULL`` before that. The function appends its request id to a file outside its
private /tmp, so executions are counted by the test, duplicates (at-least-once) included.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import os
import random
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

EVENTS = 10_000
KILLS = 10
KILLS_WHILE_ENQUEUING = 6
CLIENTS = 8
SEED = 8

SINK = """
import os, time

def handler(event, context):
    time.sleep(0.1)  # slower than the clients enqueue: a real backlog to kill the server over
    fd = os.open(os.environ["SINK"], os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (context.aws_request_id + "\\n").encode())
    finally:
        os.close(fd)
    return None
"""


@pytest.fixture
def sink() -> Iterator[Path]:
    directory = Path("/var/tmp") / f"keepwarm-async-{uuid.uuid4().hex}"
    directory.mkdir()
    directory.chmod(0o777)  # functions run as unprivileged uids of their own
    path = directory / "ran.txt"
    path.touch()
    path.chmod(0o666)
    yield path
    shutil.rmtree(directory, ignore_errors=True)


class Fleet:
    """The server process of the moment; replaced after every kill."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.lock = threading.Lock()
        self.generation = 0
        self.server: Any = None
        self.kills: list[dict[str, Any]] = []

    def start(self) -> None:
        from kw_server import Server

        server = Server(self.data_dir, "--async-time-scale", "0.01").start()
        with self.lock:
            self.server, self.generation = server, self.generation + 1

    def port(self) -> tuple[int, int]:
        with self.lock:
            return self.server.port, self.generation

    def kill_and_restart(self, when: str, accepted: int, ran: int) -> None:
        t0 = time.monotonic()
        self.server.kill9()  # SIGKILL; asserts that no environment process survived it
        self.start()
        self.kills.append(
            {
                "when": when,
                "accepted": accepted,
                "ran_lines": ran,
                "restart_s": round(time.monotonic() - t0, 2),
            }
        )


def _post_event(port: int, n: int) -> str | None:
    """One Event invocation; its request id if the server accepted it (202), else None."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/2015-03-31/functions/sink/invocations",
            body=json.dumps({"n": n}).encode(),
            headers={"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
    except OSError:
        return None
    finally:
        conn.close()
    if response.status != 202:
        return None
    return response.getheader("x-amzn-RequestId")


def _lines(path: Path) -> list[str]:
    return path.read_text().split()


def _queued(data_dir: Path) -> int:
    from keepwarm.asyncq.store import read_store

    queued, dead = read_store(data_dir / "events.db")
    assert not dead, dead[:3]
    return len(queued)


def test_kill_nine_ten_times_loses_no_accepted_event(tmp_path: Path, sink: Path) -> None:
    import boto3
    from botocore.config import Config
    from kw_server import ROLE, make_zip

    rng = random.Random(SEED)
    fleet = Fleet(tmp_path / "data")
    fleet.start()
    lam = boto3.client(
        "lambda",
        endpoint_url=fleet.server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 0}),
    )
    lam.create_function(
        FunctionName="sink",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": SINK})},
        Environment={"Variables": {"SINK": str(sink)}},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="sink", WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
    )
    accepted: list[str] = []
    refused = 0
    lock = threading.Lock()
    thresholds = sorted(rng.sample(range(500, EVENTS - 500), KILLS_WHILE_ENQUEUING))
    t0 = time.monotonic()

    def client(worker: int) -> None:
        nonlocal refused
        for n in range(worker, EVENTS, CLIENTS):
            while True:
                port, _ = fleet.port()
                request_id = _post_event(port, n)
                if request_id is not None:
                    with lock:
                        accepted.append(request_id)
                    break
                with lock:
                    refused += 1  # the server was being killed: send it again (a new event)
                time.sleep(0.01)

    def killer() -> None:
        for threshold in thresholds:
            while len(accepted) < threshold:
                time.sleep(0.002)
            fleet.kill_and_restart("enqueuing", len(accepted), len(_lines(sink)))

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        futures = [pool.submit(client, w) for w in range(CLIENTS)] + [pool.submit(killer)]
        for future in futures:
            future.result()
    enqueue_s = time.monotonic() - t0
    # The rest of the kills while the queue drains (events queued or running).
    for _ in range(KILLS - KILLS_WHILE_ENQUEUING):
        target = len(_lines(sink)) + rng.randrange(200, 1200)
        deadline = time.monotonic() + 60
        while (
            len(_lines(sink)) < target and _queued(fleet.data_dir) and time.monotonic() < deadline
        ):
            time.sleep(0.005)
        fleet.kill_and_restart("draining", len(accepted), len(_lines(sink)))

    deadline = time.monotonic() + 180
    while (_queued(fleet.data_dir) or not set(accepted) <= set(_lines(sink))) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    total_s = time.monotonic() - t0
    fleet.server.stop()
    ran = collections.Counter(_lines(sink))
    with contextlib.closing(sqlite3.connect(fleet.data_dir / "events.db")) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchall()
        left = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    lost = set(accepted) - set(ran)
    duplicates = sum(c - 1 for c in ran.values() if c > 1)
    unacknowledged = set(ran) - set(accepted)
    figures = {
        "accepted": len(accepted),
        "refused_or_cut": refused,
        "kills": len(fleet.kills),
        "executions": sum(ran.values()),
        "lost": len(lost),
        "duplicates": duplicates,
        "ran_but_never_acknowledged": len(unacknowledged),
        "enqueue_s": round(enqueue_s, 1),
        "total_s": round(total_s, 1),
        "integrity": integrity,
        "kill_log": fleet.kills,
    }
    print(f"\nASYNC {figures}")
    assert len(accepted) == EVENTS and len(set(accepted)) == EVENTS
    assert len(fleet.kills) == KILLS
    assert not lost, f"{len(lost)} accepted events never ran"
    assert integrity == [("ok",)]
    assert left == 0
    assert os.path.getsize(sink) > 0
