"""The docs' worked example runs, and its orc handler behaves as the docs say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

APP = Path(__file__).resolve().parents[2] / "examples" / "orc" / "app.py"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.delenv("ORC_REDIS_URL", raising=False)
    spec = importlib.util.spec_from_file_location("orc_example_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "orc_example_app", module)
    spec.loader.exec_module(module)
    return module


def test_dict_and_orc_handlers_agree(app: ModuleType) -> None:
    for user_id in ("1", "2", "404"):
        assert (
            app.handler_dict({"user_id": user_id}, None)["user"]
            == app.handler({"user_id": user_id}, None)["user"]
        )


def test_orc_handler_hits_on_reuse_and_counts(app: ModuleType) -> None:
    first = app.handler({"user_id": "1"}, None)
    second = app.handler({"user_id": "1"}, None)
    assert first["user"] == second["user"] == {"id": "1", "name": "Ann"}
    assert (second["cache"]["hits"], second["cache"]["origin_calls"]) == (1, 1)
    assert app.handler({"user_id": "nobody"}, None)["user"] is None
    assert app.get_user.cache.stats()["items"] == 2
