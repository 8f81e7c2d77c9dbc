"""Published layer versions in the registry's SQLite, one JSON document per version.

Why the functions' database and its worker: one file and one writing thread for the whole
control plane, so a publish is committed (and survives a kill -9) before it is answered, like a
CreateFunction. A deleted version stays as a tombstone row: its number is never given again,
and a function still running it reports its size. A template's layers are not stored (the
template is their source).
"""

from __future__ import annotations

import json
import sqlite3

from keepwarm.registry.db import SqliteWorker
from keepwarm.registry.layer_model import LayerVersion

_TABLE = """
CREATE TABLE IF NOT EXISTS layer_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (name, version)
)
"""


class LayerStore:
    def __init__(self, db: SqliteWorker) -> None:
        self._db = db
        db.call(lambda conn: conn.execute(_TABLE))

    def load_all(self) -> list[LayerVersion]:
        def read(conn: sqlite3.Connection) -> list[str]:
            query = "SELECT doc FROM layer_versions ORDER BY name, version"
            return [row[0] for row in conn.execute(query)]

        return [LayerVersion.from_dict(json.loads(doc)) for doc in self._db.call(read)]

    async def save(self, layer: LayerVersion) -> None:
        doc = json.dumps(layer.to_dict())

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO layer_versions(name, version, doc) VALUES (?, ?, ?) "
                "ON CONFLICT(name, version) DO UPDATE SET doc = excluded.doc",
                (layer.name, layer.version, doc),
            )

        await self._db.run(write)
