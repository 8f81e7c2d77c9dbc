"""One SQLite connection owned by one thread, with group commit.

Why a thread: SQLite calls block, and the server's event loop must not. Why group commit: a
durable write needs an fsync, and batching every write that arrived meanwhile into one
transaction turns N fsyncs into one, which is how the async queue reaches its enqueue target
while still answering 202 only after the event is on disk.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_BATCH = 512


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """WAL + synchronous=FULL: a committed transaction survives a crash or a kill -9."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(schema)
    return conn


class SqliteWorker:
    """Runs jobs ``fn(conn)`` on a private thread; jobs that queue up share one transaction."""

    def __init__(self, path: Path, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(path, schema)
        self._jobs: queue.SimpleQueue[tuple[Job, Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sqlite:{path.name}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Await a job from the event loop; it has committed when this returns."""
        return await asyncio.wrap_future(self.submit(fn))

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a job from a plain thread (start-up, the CLI)."""
        return self.submit(fn).result()

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < _BATCH:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                break
        self._conn.close()

    def _commit(self, batch: list[tuple[Job, Future[Any]]]) -> None:
        """Run and commit a batch. A job whose caller gave up (cancelled) still runs: what it
        writes may be owed to someone else (an event already promised), only its answer is
        dropped; and marking futures running first means no cancel can race the answer."""
        live = {fut for _fn, fut in batch if fut.set_running_or_notify_cancel()}
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                results.append((fut, *self._one(fn)))
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            for fut in live:
                fut.set_exception(exc)
            return
        for fut, value, error in results:
            if fut not in live:
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(value)

    def _one(self, fn: Job) -> tuple[Any, BaseException | None]:
        """One job inside a savepoint, so a failing job undoes only its own writes."""
        self._conn.execute("SAVEPOINT job")
        try:
            value = fn(self._conn)
        except Exception as exc:
            self._conn.execute("ROLLBACK TO job")
            self._conn.execute("RELEASE job")
            return None, exc
        self._conn.execute("RELEASE job")
        return value, None

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout=10)
