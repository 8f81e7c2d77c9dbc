"""Event decoding and result encoding (§9.4), compared with awslambdaric where installed."""

from __future__ import annotations

import collections
from decimal import Decimal
from typing import Any

import pytest

from keepwarm.runtimes.python.errors import FaultError
from keepwarm.runtimes.python.marshal import marshal_result, to_json, unmarshal_event


@pytest.fixture(autouse=True)
def _python312(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")


def test_json_event_is_decoded() -> None:
    assert unmarshal_event(b'{"a": [1, 2.5, null, "\xc3\xa9"]}', "application/json") == {
        "a": [1, 2.5, None, "é"]
    }


@pytest.mark.parametrize(
    "content_type",
    ["application/octet-stream", "application/json; charset=utf-8", "text/plain", ""],
)
def test_other_content_types_get_raw_bytes(content_type: str) -> None:
    body = b"\x00\x01not json"
    assert unmarshal_event(body, content_type) is body


def test_invalid_json_is_unmarshal_error() -> None:
    with pytest.raises(FaultError) as caught:
        unmarshal_event(b"{bad", "application/json")
    assert caught.value.error_type == "Runtime.UnmarshalError"
    assert caught.value.message == (
        "Unable to unmarshal input: Expecting property name enclosed in double quotes or '}': "
        "line 1 column 2 (char 1)"
    )
    assert caught.value.stack_trace == []


def test_empty_json_body_is_unmarshal_error() -> None:
    with pytest.raises(FaultError) as caught:
        unmarshal_event(b"", "application/json")
    assert (
        caught.value.message
        == "Unable to unmarshal input: Expecting value: line 1 column 1 (char 0)"
    )


@pytest.mark.parametrize(
    ("result", "body"),
    [
        (None, b"null"),
        ({"statusCode": 200, "body": "ok"}, b'{"statusCode": 200, "body": "ok"}'),
        ([1, 2.5, True], b"[1, 2.5, true]"),
        ((1, 2), b"[1, 2]"),
        ("héllo ☃", '"héllo ☃"'.encode()),
        (Decimal("1.10"), b"1.10"),
        ({"price": Decimal("12345678901234567890.123")}, b'{"price": 12345678901234567890.123}'),
        (Decimal("NaN"), b"NaN"),
        (Decimal("-NaN"), b"NaN"),
        (float("inf"), b"Infinity"),
        ({"raw": b"abc"}, b'{"raw": "abc"}'),
    ],
)
def test_results_encode_like_aws(result: Any, body: bytes) -> None:
    assert marshal_result(result) == (body, "application/json")


def test_namedtuple_becomes_an_object() -> None:
    point = collections.namedtuple("point", "x y")
    assert marshal_result(point(1, 2)) == (b'{"x": 1, "y": 2}', "application/json")


def test_bytes_result_is_sent_raw() -> None:
    payload = b"\x89PNG\r\n"
    assert marshal_result(payload) == (payload, "application/unknown")


def test_older_runtimes_escape_non_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    assert marshal_result("é")[0] == b'"\\u00e9"'


def test_no_execution_env_keeps_non_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV")
    assert marshal_result("é")[0] == '"é"'.encode()


@pytest.mark.parametrize(
    ("result", "detail"),
    [
        ({1, 2}, "Object of type set is not JSON serializable"),
        ({"when": object}, "Object of type type is not JSON serializable"),
        (bytearray(b"x"), "Object of type bytearray is not JSON serializable"),
    ],
)
def test_unserialisable_result_is_marshal_error(result: Any, detail: str) -> None:
    with pytest.raises(FaultError) as caught:
        marshal_result(result)
    assert caught.value.error_type == "Runtime.MarshalError"
    assert caught.value.message == f"Unable to marshal response: {detail}"
    assert caught.value.payload("r")["stackTrace"] == []


def test_lone_surrogate_is_marshal_error() -> None:
    with pytest.raises(FaultError) as caught:
        marshal_result("\ud800")
    assert caught.value.error_type == "Runtime.MarshalError"


ORACLE_VALUES: list[Any] = [
    None,
    {"a": [1, {"b": "é✓"}], "n": Decimal("-0.000")},
    Decimal("1E+3"),
    Decimal("sNaN"),
    float("nan"),
    {"k": (1, "x")},
    'tab\tquote"',
]


@pytest.mark.parametrize("value", ORACLE_VALUES)
@pytest.mark.parametrize("runtime", ["AWS_Lambda_python3.12", "AWS_Lambda_python3.11"])
def test_matches_awslambdaric(monkeypatch: pytest.MonkeyPatch, value: Any, runtime: str) -> None:
    theirs: Any = pytest.importorskip("awslambdaric.lambda_runtime_marshaller")
    monkeypatch.setenv("AWS_EXECUTION_ENV", runtime)
    assert to_json(value) == theirs.to_json(value)
    assert marshal_result(value) == (theirs.to_json(value).encode(), "application/json")
