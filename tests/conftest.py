"""Suite-wide fixtures: a fresh data dir per test and a session-end check for leaked processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm import ServerConfig
from tests.helpers import keepwarm_processes, wait_for


@pytest.fixture(scope="session", autouse=True)
def no_leaked_processes() -> Iterator[None]:
    before = set(keepwarm_processes())
    yield
    wait_for(
        lambda: not (set(keepwarm_processes()) - before),
        timeout=15,
        what="keepwarm processes to exit at the end of the session",
    )


@pytest.fixture
def server(tmp_path: Path) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "data")
