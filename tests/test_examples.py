from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from keepwarm.template import read_template

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = {"Greeting", "Cache", "Payment", "PaymentFixed", "Hello", "Counter", "Visits"}
MODULES = ("greeting", "cache", "db", "payment", "payment_fixed", "payments", "hello", "counter")


def test_every_example_function_resolves() -> None:
    loaded = read_template(EXAMPLES / "template.yaml", build_dir=Path("/nonexistent"))
    assert loaded.warnings == []
    by_name = {config.name: config for config in loaded.functions}
    assert set(by_name) >= EXPECTED
    for name in EXPECTED:
        config = by_name[name]
        assert (config.runtime, config.timeout_s, config.memory_mb) == ("python3.12", 3, 128)
        assert config.code_dir.is_dir()
        module, _, function = config.handler.rpartition(".")
        source = config.code_dir / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{name}: {source} missing"
        assert f"def {function}(" in source.read_text()


@pytest.mark.parametrize("event", sorted((EXAMPLES / "events").glob("*.json")), ids=str)
def test_events_are_json_objects(event: Path) -> None:
    assert isinstance(json.loads(event.read_text()), dict)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Import the example modules from scratch, as a new environment would, and forget them."""
    monkeypatch.syspath_prepend(str(EXAMPLES / "python"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in MODULES:
        sys.modules.pop(name, None)


def load(name: str) -> ModuleType:
    return importlib.import_module(name)


def event(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((EXAMPLES / "events" / f"{name}.json").read_text())
    return data


def context() -> SimpleNamespace:
    return SimpleNamespace(aws_request_id="req-1")


@pytest.mark.usefixtures("fresh")
def test_greeting_changes_after_first_call(capsys: pytest.CaptureFixture[str]) -> None:
    greeting = load("greeting")
    assert [greeting.handler({}, context()) for _ in range(3)] == ["hello", "it's me", "it's me"]
    assert capsys.readouterr().out.splitlines() == ["hello", "it's me", "it's me"]


@pytest.mark.usefixtures("fresh")
def test_counter_and_hello_keep_module_state() -> None:
    counter, hello = load("counter"), load("hello")
    assert [counter.handler({}, context())["count"] for _ in range(10)][-1] == 10
    first, second = hello.handler({}, context()), hello.handler({}, context())
    assert first == {"message": "hello from keepwarm", "request_id": "req-1", "cold": True}
    assert second["cold"] is False


@pytest.mark.usefixtures("fresh")
def test_cache_hits_after_first_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = load("cache")
    monkeypatch.setattr(sys.modules["db"], "LOOKUP_SECONDS", 0)
    first, second = (
        cache.handler(event("cache"), context()),
        cache.handler(event("cache"), context()),
    )
    assert (first["item"], first["cached"], second["cached"]) == ("apple", False, True)
    assert first["value"] == second["value"]


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("module", ["payment", "payment_fixed"])
def test_payment_handlers(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = load(module).handler
    monkeypatch.setattr(sys.modules["payments"], "VERIFY_SECONDS", 0)
    assert handler(event("payment"), context()) == {"message": "Payment okay", "card_last4": "1111"}
    with pytest.raises(Exception, match=r"^Invalid card$") as caught:
        handler(event("payment-invalid"), context())
    assert type(caught.value).__name__ == "InvalidCardError"
