"""Function URLs created through the API, in the registry's SQLite file (a table of their own).

Why a table and not the function's document: a URL is created, changed and deleted on its own,
one row per (function, qualifier) makes each of those one write, and template functions (whose
document is not stored) get API URLs too. A template's own URLs are not stored: the template
makes them again at each start, with the same url-id.
"""

from __future__ import annotations

import json
import sqlite3

from keepwarm.registry.db import SqliteWorker
from keepwarm.registry.url_rules import UrlConfig

_TABLE = """
CREATE TABLE IF NOT EXISTS function_urls (
    function TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (function, qualifier)
)
"""


class UrlStore:
    """On the functions' database and its one writing thread (see ``layer_store``)."""

    def __init__(self, db: SqliteWorker) -> None:
        self._db = db
        db.call(lambda conn: conn.execute(_TABLE))

    def load_all(self) -> list[UrlConfig]:
        def read(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            return list(conn.execute("SELECT function, qualifier, doc FROM function_urls"))

        return [
            UrlConfig.from_dict(name, qualifier or None, json.loads(doc))
            for name, qualifier, doc in self._db.call(read)
        ]

    async def save(self, url: UrlConfig) -> None:
        doc = json.dumps(url.to_dict())

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO function_urls(function, qualifier, doc) VALUES (?, ?, ?) "
                "ON CONFLICT(function, qualifier) DO UPDATE SET doc = excluded.doc",
                (url.function, url.qualifier or "", doc),
            )

        await self._db.run(write)

    async def delete(
        self, function: str, qualifier: str | None = None, every: bool = False
    ) -> None:
        """One URL, or (``every``) all of a function's."""

        def write(conn: sqlite3.Connection) -> None:
            if every:
                conn.execute("DELETE FROM function_urls WHERE function = ?", (function,))
            else:
                conn.execute(
                    "DELETE FROM function_urls WHERE function = ? AND qualifier = ?",
                    (function, qualifier or ""),
                )

        await self._db.run(write)
