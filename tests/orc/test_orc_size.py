"""The size estimate against real measurements: exact ``sys.getsizeof`` sums and tracemalloc.

Values are built from fresh objects (no small ints, no one-character strings) and are big enough
that CPython's free lists, which tracemalloc cannot see, do not matter.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from keepwarm import orc
from keepwarm.orc import _size
from keepwarm.orc._size import DEFAULT_BUDGET, estimate

N = 30_000


def _every_key_to_one_row(n: int) -> dict[str, list[str]]:
    row = [f"cell-{j}" for j in range(100)]
    return {f"key-{i}": row for i in range(n)}


BUILDERS: dict[str, Callable[[int], object]] = {
    "str_to_int": lambda n: {f"sku-{i:08d}": i * 3 + 100_000 for i in range(n)},
    "int_to_float": lambda n: {i + 1_000: i * 0.5 for i in range(n)},
    "bytes_of_varied_sizes": lambda n: [bytes(50 + i % 200) for i in range(n)],
    "strs_growing_along_the_list": lambda n: ["y" * (i * 2_000 // n) + str(i) for i in range(n)],
    "tuple_of_ints": lambda n: tuple(range(1_000, 1_000 + n)),
    "set_of_strs": lambda n: {f"member-{i}" for i in range(n)},
    "records": lambda n: [
        {"id": i + 1_000, "name": f"user-{i}", "score": i * 1.5, "tags": [f"t{i}", f"u{i}"]}
        for i in range(n // 4)
    ],
    "dict_of_float_lists": lambda n: {
        f"k{i}": [float(j + i) for j in range(20)] for i in range(n // 20)
    },
    "one_row_shared_by_every_key": lambda n: _every_key_to_one_row(n),
    "three_levels": lambda n: {
        f"a{i}": {f"b{j}": [f"{i}-{j}-{k}" for k in range(5)] for j in range(10)}
        for i in range(n // 50)
    },
}


def _traced(build: Callable[[], object]) -> tuple[object, int]:
    """The value and the bytes allocated to build it that are still held."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        value = build()
        return value, tracemalloc.get_traced_memory()[0] - before
    finally:
        if started:
            tracemalloc.stop()


def _exact(obj: object, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        return size + sum(_exact(k, seen) + _exact(v, seen) for k, v in obj.items())
    if isinstance(obj, list | tuple | set | frozenset):
        return size + sum(_exact(item, seen) for item in obj)
    return size


def _counting_sizes(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every object the estimate measures, in order."""
    measured: list[object] = []

    def getsizeof(obj: object) -> int:
        measured.append(obj)
        return sys.getsizeof(obj)

    monkeypatch.setattr(_size, "sys", SimpleNamespace(getsizeof=getsizeof))
    return measured


@pytest.mark.parametrize("shape", BUILDERS)
def test_estimate_of_a_large_value_is_close_to_its_real_size(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each value holds far more objects than the budget, so the estimate has to sample."""
    value, traced = _traced(lambda: BUILDERS[shape](N))
    exact = _exact(value, set())
    measured = _counting_sizes(monkeypatch)
    guess = estimate(value)
    assert exact / 1.05 <= guess <= exact * 1.05, (guess, exact)
    assert traced / 1.5 <= guess <= traced * 1.5, (guess, traced)
    assert len(measured) <= DEFAULT_BUDGET


def test_a_flat_table_of_100k_entries_fits_where_it_should() -> None:
    """The reported case: 13 MB of str -> int was estimated at over 100 MB and rejected."""
    table, traced = _traced(lambda: BUILDERS["str_to_int"](100_000))
    cache = orc.Cache(ttl=60, max_bytes=100_000_000)
    cache.set("table", table)
    stats = cache.stats()
    assert stats["rejected"] == 0 and cache.get("table") is table
    assert traced / 1.5 <= stats["bytes"] <= traced * 1.5, (stats["bytes"], traced)


class _Row:
    """A record that points at one table shared by every row, through its ``__dict__``."""

    def __init__(self, i: int, table: list[str]) -> None:
        self.i = float(i)
        self.name = f"row-{i}"
        self.table = table


def _rows_sharing_a_table(n: int) -> list[_Row]:
    table = ["x" * 200 + str(j) for j in range(8_000)]
    return [_Row(i, table) for i in range(n)]


def _pairs_sharing_a_dict(n: int) -> list[list[object]]:
    config = {f"c{j}": f"v{j}" * 10 for j in range(5_000)}
    return [[i * 1_000, config] for i in range(n)]


def _dicts_sharing_a_string(n: int) -> list[dict[str, object]]:
    blob = "y" * 1_000_000
    return [{"id": i * 1_000, "blob": blob} for i in range(n)]


def _every_tenth_list_is_big(n: int) -> list[list[str]]:
    """6,400 elements are sampled 64 apart: a fixed stride sees only the small lists."""
    return [[f"cell-{i}-{j}" for j in range(100 if i % 10 == 5 else 1)] for i in range(n)]


def _every_tenth_str_is_big(n: int) -> list[str]:
    return [("z" * 10_000 if i % 10 == 5 else "z" * 100) + str(i) for i in range(n)]


HARD: dict[str, Callable[[], object]] = {
    "rows_sharing_a_table": lambda: _rows_sharing_a_table(10_000),
    "pairs_sharing_a_dict": lambda: _pairs_sharing_a_dict(10_000),
    "dicts_sharing_a_string": lambda: _dicts_sharing_a_string(20_000),
    "dict_atom_first_then_lists": lambda: {
        "meta": 1,
        **{f"k{i}": [f"s{i}-{j}" for j in range(50)] for i in range(5_000)},
    },
    "list_atom_first_then_lists": lambda: (
        [0] + [[f"s{i}-{j}" for j in range(50)] for i in range(5_000)]
    ),
    "every_tenth_list_is_big": lambda: _every_tenth_list_is_big(6_400),
    "every_tenth_str_is_big": lambda: _every_tenth_str_is_big(40_950),
    "one_row_repeated": lambda: [[f"cell-{j}" for j in range(1_000)]] * 10_000,
}


@pytest.mark.parametrize("shape", HARD)
def test_estimate_of_shared_mixed_or_skewed_values_is_close_to_tracemalloc(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sharing at any depth is charged once; no single element decides how the rest is read."""
    value, traced = _traced(HARD[shape])
    measured = _counting_sizes(monkeypatch)
    guess = estimate(value)
    assert traced / 1.5 <= guess <= traced * 1.5, (guess, traced)
    assert len(measured) <= DEFAULT_BUDGET


def test_rows_sharing_one_table_fit_where_they_should() -> None:
    """The reported case: 4 MB of rows pointing at one 2 MB table were estimated at 329 MB."""
    rows, traced = _traced(lambda: _rows_sharing_a_table(10_000))
    cache = orc.Cache(ttl=60, max_bytes=100_000_000)
    cache.set("rows", rows)
    stats = cache.stats()
    assert stats["rejected"] == 0 and cache.get("rows") is rows
    assert traced / 1.5 <= stats["bytes"] <= traced * 1.5, (stats["bytes"], traced)
