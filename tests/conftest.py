"""Suite-wide fixtures: a fresh data dir per test, a directory function code can write to, and a
session-end check for leaked processes (per pytest-xdist worker)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm import ServerConfig
from tests.helpers import become_subreaper, keepwarm_processes, wait_for


@pytest.fixture(scope="session", autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Each pytest-xdist worker checks its own process tree (see ``become_subreaper``)."""
    become_subreaper()
    me = os.getpid()
    before = set(keepwarm_processes(under=me))
    yield
    wait_for(
        lambda: not (set(keepwarm_processes(under=me)) - before),
        timeout=15,
        what="keepwarm processes to exit at the end of the session",
    )


@pytest.fixture
def server(tmp_path: Path) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "data")


@pytest.fixture
def side_dir() -> Iterator[Path]:
    """A directory function code can write to: outside /tmp (private per environment) and
    outside the data dir (hidden from environments)."""
    path = Path(tempfile.mkdtemp(prefix="keepwarm-test-", dir="/var/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
