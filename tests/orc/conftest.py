"""Fixtures for orc: a clock that moves only when told, and a real, disposable redis-server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orc.orc_helpers import RedisServer, TickClock


@pytest.fixture
def clock() -> TickClock:
    return TickClock()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; `make test` (scripts/install) installs it")
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
