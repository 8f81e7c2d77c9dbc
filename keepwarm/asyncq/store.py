"""The durable event queue and the local dead-letter store, in one SQLite database (WAL).

Why one database: finishing an event (delete it, and deliver its record to a destination or the
dead-letter store) must be one transaction, or a crash between the two would lose a record or run
an event twice more than at-least-once allows. Every write commits with ``synchronous=FULL``
before its future resolves, so a 202 is sent only for an event that is on disk.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm.registry.db import SqliteWorker, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    throttles INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    next_at REAL NOT NULL,
    last_result TEXT
);
CREATE INDEX IF NOT EXISTS events_due ON events(state, next_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    function TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    condition TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL
);
"""
_COLUMNS = (
    "id, function, qualifier, payload, attempts, throttles, enqueued_at, next_at, last_result"
)


@dataclass
class Event:
    """One accepted asynchronous invocation; ``id`` is its request id across every retry."""

    function: str
    qualifier: str | None
    payload: bytes
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    enqueued_at: float = field(default_factory=time.time)
    attempts: int = 0
    throttles: int = 0
    next_at: float = 0.0
    last_result: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Event:
        ident, function, qualifier, payload, attempts, throttles, enqueued, next_at, last = row
        return cls(
            function,
            qualifier,
            bytes(payload),
            ident,
            enqueued,
            attempts,
            throttles,
            next_at,
            json.loads(last) if last else None,
        )


@dataclass(frozen=True)
class DeadLetter:
    """A record for a destination keepwarm cannot deliver to (SQS, SNS, EventBridge) or a DLQ."""

    function: str
    target: str
    kind: str  # destination | dlq
    condition: str
    body: str


def _insert(conn: sqlite3.Connection, event: Event) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO events(id, function, qualifier, payload, enqueued_at, next_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            event.id,
            event.function,
            event.qualifier,
            event.payload,
            event.enqueued_at,
            event.next_at or event.enqueued_at,
        ),
    )


class EventStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteWorker(path, SCHEMA)

    async def enqueue(self, event: Event) -> None:
        """Returns once the event is committed (fsync'd): only then may the caller get 202."""
        await self._db.run(lambda conn: _insert(conn, event))

    def recover(self) -> int:
        """Events that were running when the server died run again (at-least-once)."""

        def requeue(conn: sqlite3.Connection) -> int:
            cur = conn.execute("UPDATE events SET state = 'queued' WHERE state = 'running'")
            return cur.rowcount

        return self._db.call(requeue)

    async def due_functions(self, now: float) -> list[str]:
        """Functions with events due now, the one waiting longest first."""

        def read(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT function FROM events WHERE state = 'queued' AND next_at <= ?"
                " GROUP BY function ORDER BY MIN(next_at)",
                (now,),
            ).fetchall()
            return [str(r[0]) for r in rows]

        return await self._db.run(read)

    async def claim(self, now: float, limit: int, function: str) -> list[Event]:
        def take(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE state = 'queued' AND next_at <= ?"
                " AND function = ? ORDER BY next_at LIMIT ?",
                (now, function, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE events SET state = 'running' WHERE id = ?", [(r[0],) for r in rows]
            )
            return [Event.from_row(r) for r in rows]

        return await self._db.run(take)

    async def next_due(self, excluding: Collection[str] = ()) -> float | None:
        """When the next queued event is due, of functions other than ``excluding``."""
        marks = ", ".join("?" * len(excluding))
        where = f" AND function NOT IN ({marks})" if excluding else ""

        def read(conn: sqlite3.Connection) -> float | None:
            query = f"SELECT MIN(next_at) FROM events WHERE state = 'queued'{where}"
            row = conn.execute(query, tuple(excluding)).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._db.run(read)

    async def reschedule(self, event: Event) -> None:
        last = json.dumps(event.last_result) if event.last_result is not None else None

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE events SET state = 'queued', attempts = ?, throttles = ?, next_at = ?,"
                " last_result = ? WHERE id = ?",
                (event.attempts, event.throttles, event.next_at, last, event.id),
            )

        await self._db.run(write)

    async def finish(
        self, event: Event, *, follow_up: Event | None = None, dead: DeadLetter | None = None
    ) -> None:
        """Remove a finished event and hand on its record, atomically."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM events WHERE id = ?", (event.id,))
            if follow_up is not None:
                _insert(conn, follow_up)
            if dead is not None:
                conn.execute(
                    "INSERT INTO dead_letters(event_id, function, target, kind, condition, body,"
                    " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.id,
                        dead.function,
                        dead.target,
                        dead.kind,
                        dead.condition,
                        dead.body,
                        time.time(),
                    ),
                )

        await self._db.run(write)

    def close(self) -> None:
        self._db.close()


def read_store(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(queued or running events, dead letters) for ``keepwarm events``; safe while serving.
    A dead letter's ``body`` is its JSON text, as stored."""
    conn = connect(path, SCHEMA)
    try:
        events = [
            {
                "id": r[0],
                "function": r[1],
                "qualifier": r[2],
                "state": r[3],
                "attempts": r[4],
                "enqueued_at": r[5],
                "next_at": r[6],
            }
            for r in conn.execute(
                "SELECT id, function, qualifier, state, attempts, enqueued_at, next_at FROM events"
                " ORDER BY enqueued_at"
            )
        ]
        dead = [
            {
                "seq": r[0],
                "event_id": r[1],
                "function": r[2],
                "target": r[3],
                "kind": r[4],
                "condition": r[5],
                "body": r[6],  # JSON text: a record may nest deeper than a parser goes
                "created": r[7],
            }
            for r in conn.execute(
                "SELECT seq, event_id, function, target, kind, condition, body, created"
                " FROM dead_letters ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    return events, dead
