"""``--ignore-field`` paths: parsing and removal."""

from __future__ import annotations

import pytest

from keepwarm.chaos.paths import drop_fields, parse_path


@pytest.mark.parametrize(
    ("spec", "steps"),
    [
        ("requestId", ["requestId"]),
        ("body.timestamp", ["body", "timestamp"]),
        ("items[*].id", ["items", "*", "id"]),
        ("items[2]", ["items", 2]),
        ('headers["x.date"]', ["headers", "x.date"]),
        ("headers.x-amz-date", ["headers", "x-amz-date"]),
    ],
)
def test_parse(spec: str, steps: list[object]) -> None:
    assert parse_path(spec) == steps


@pytest.mark.parametrize("spec", ["", ".a", "a..b", "a[x]", "a[", "a b"])
def test_bad_paths(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_path(spec)


def test_drop_nested_wildcard_and_index() -> None:
    value = {"items": [{"id": 1, "v": 2}, {"id": 3}], "t": 5}
    assert drop_fields(value, parse_path("items[*].id")) == {"items": [{"v": 2}, {}], "t": 5}
    assert drop_fields(value, parse_path("items[0]")) == {"items": [{"id": 3}], "t": 5}
    assert drop_fields(value, parse_path("t")) == {"items": value["items"]}
    assert value == {"items": [{"id": 1, "v": 2}, {"id": 3}], "t": 5}


def test_missing_fields_are_ignored() -> None:
    assert drop_fields({"a": 1}, parse_path("b.c")) == {"a": 1}
    assert drop_fields("text", parse_path("a")) == "text"
    assert drop_fields([1], parse_path("[5]")) == [1]
