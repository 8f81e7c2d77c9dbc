"""Function records in SQLite, one JSON document per function.

Why documents: the control plane changes a function a few times a minute at most, reads come
from the in-memory registry, and one row per function makes every change one atomic write.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from keepwarm.registry.db import SqliteWorker
from keepwarm.registry.model import FunctionRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"""


class FunctionStore:
    def __init__(self, path: Path) -> None:
        self._db = SqliteWorker(path, SCHEMA)

    def load_all(self) -> list[FunctionRecord]:
        def read(conn: sqlite3.Connection) -> list[str]:
            return [row[0] for row in conn.execute("SELECT doc FROM functions ORDER BY name")]

        return [FunctionRecord.from_dict(json.loads(doc)) for doc in self._db.call(read)]

    async def save(self, record: FunctionRecord) -> None:
        doc = json.dumps(record.to_dict())
        name = record.name

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO functions(name, doc) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
                (name, doc),
            )

        await self._db.run(write)

    async def delete(self, name: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM functions WHERE name = ?", (name,))
        )

    def close(self) -> None:
        self._db.close()
