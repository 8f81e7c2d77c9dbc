"""Fixtures for the in-process runtime tests: a throwaway task root per test."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


class TaskRoot:
    """A function's code directory, importable for the duration of one test."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, relative: str, source: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
        importlib.invalidate_caches()
        return target


@pytest.fixture
def task_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskRoot]:
    """Task root first on sys.path and as cwd; modules imported from it are forgotten after."""
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield TaskRoot(tmp_path)
    for name in set(sys.modules) - before:
        if _loaded_from(sys.modules.get(name), str(tmp_path)):
            del sys.modules[name]


def _loaded_from(module: object, root: str) -> bool:
    namespace = getattr(module, "__dict__", {})
    locations = [str(namespace.get("__file__") or "")]
    locations += [str(entry) for entry in namespace.get("__path__") or []]
    return any(location.startswith(root) for location in locations)
