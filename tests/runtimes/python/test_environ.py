"""The runtime's cheap environment reads answer exactly as ``os.environ`` does, live."""

from __future__ import annotations

import os

import pytest

from keepwarm.runtimes.python.environ import getter, remover

NAME = "KEEPWARM_TEST_ENVIRON_VAR"


def test_a_getter_follows_every_change_made_through_os_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    get = getter(NAME)
    monkeypatch.delenv(NAME, raising=False)
    assert get() is None
    monkeypatch.setenv(NAME, "first")
    assert get() == "first"
    os.environ[NAME] = "second"
    assert get() == "second"
    del os.environ[NAME]
    assert get() is None


@pytest.mark.parametrize("value", ["", "plain", "ünïcødé ✓", "tab\there", "x" * 4096])
def test_a_getter_decodes_like_os_environ(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(NAME, value)
    assert getter(NAME)() == os.environ.get(NAME) == value


def test_undecodable_bytes_come_back_as_os_environ_gives_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    os.environb[os.fsencode(NAME)] = b"caf\xe9"
    try:
        assert getter(NAME)() == os.environ[NAME] == "caf\udce9"
    finally:
        del os.environb[os.fsencode(NAME)]


def test_a_remover_unsets_the_variable_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    remove = remover(NAME)
    monkeypatch.setenv(NAME, "set")
    remove()
    assert NAME not in os.environ
    assert os.getenv(NAME) is None
    remove()  # already unset: nothing happens
    assert NAME not in os.environ
