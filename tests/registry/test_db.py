"""``SqliteWorker``: a caller that gives up must not break the worker for everyone after it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from keepwarm.registry.db import SqliteWorker

SCHEMA = "CREATE TABLE IF NOT EXISTS t (v INTEGER);"


def test_cancelled_caller_still_commits_and_worker_survives(tmp_path: Path) -> None:
    worker = SqliteWorker(tmp_path / "x.db", SCHEMA)
    gate = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        gate.wait(30)
        conn.execute("INSERT INTO t VALUES (1)")

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (2)")

    async def main() -> None:
        first = worker.submit(slow)  # holds the worker while the next job is cancelled
        task = asyncio.ensure_future(worker.run(insert))
        await asyncio.sleep(0)
        task.cancel()
        gate.set()
        await asyncio.wrap_future(first)

    asyncio.run(main())
    rows = worker.call(lambda conn: sorted(v for (v,) in conn.execute("SELECT v FROM t")))
    assert rows == [1, 2]  # the cancelled job's write still happened, and the worker still runs
