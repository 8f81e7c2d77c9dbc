"""The examples in the simulator's docstrings are its real output."""

from __future__ import annotations

import doctest

import pytest

import keepwarm.simulate
from keepwarm.simulate import traffic


@pytest.mark.parametrize("module", [keepwarm.simulate, traffic])
def test_docstring_examples(module: object) -> None:
    failed, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried and not failed
