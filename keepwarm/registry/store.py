"""Function records in SQLite, one JSON document per function.

Why documents: the control plane changes a function a few times a minute at most, reads come
from the in-memory registry, and one row per function makes every change one atomic write.
A template function is not stored (the template is its source), but what the API set on it
that a template does not say (event-invoke configs, tags, versions, aliases) is, in
``template_settings``, with which alias its AutoPublishAlias made and its ``$LATEST`` as last
served (whose RevisionId a start keeps when the template still says the same).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from keepwarm.registry.db import SqliteWorker
from keepwarm.registry.layer_store import LayerStore
from keepwarm.registry.model import FunctionRecord
from keepwarm.registry.url_store import UrlStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS template_settings (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"""


class FunctionStore:
    def __init__(self, path: Path) -> None:
        self._db = SqliteWorker(path, SCHEMA)
        self.layers = LayerStore(self._db)  # published layer versions, in the same database
        self.urls = UrlStore(self._db)  # function URLs made through the API, likewise

    def load_all(self) -> list[FunctionRecord]:
        def read(conn: sqlite3.Connection) -> list[str]:
            return [row[0] for row in conn.execute("SELECT doc FROM functions ORDER BY name")]

        return [FunctionRecord.from_dict(json.loads(doc)) for doc in self._db.call(read)]

    async def save(self, record: FunctionRecord) -> None:
        await self._upsert("functions", record.name, record.to_dict())

    async def delete(self, name: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM functions WHERE name = ?", (name,))
            conn.execute("DELETE FROM template_settings WHERE name = ?", (name,))

        await self._db.run(write)

    # -- what the API set on template functions (the template itself is not stored) ----------
    def load_settings(self) -> dict[str, dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            return list(conn.execute("SELECT name, doc FROM template_settings"))

        return {name: json.loads(doc) for name, doc in self._db.call(read)}

    async def delete_settings(self, name: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM template_settings WHERE name = ?", (name,))

        await self._db.run(write)

    async def save_settings(self, name: str, settings: dict[str, Any]) -> None:
        await self._upsert("template_settings", name, settings)

    async def _upsert(self, table: str, name: str, document: dict[str, Any]) -> None:
        """One function's row of ``table`` (a name of this module's schema, never input)."""
        doc = json.dumps(document)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO {table}(name, doc) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET doc = excluded.doc",
                (name, doc),
            )

        await self._db.run(write)

    def close(self) -> None:
        self._db.close()
