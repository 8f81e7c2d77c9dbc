"""Payload validation: the fast orjson check changes nothing json decided before, neither what
is accepted nor the error a caller reads."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepwarm.errors import InvalidRequestContent
from keepwarm.registry.invoker import check_payload


def _json_only(payload: bytes) -> bytes | str:
    """What the standard library alone accepts (the behaviour before orjson)."""
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__
    return payload


def _checked(payload: bytes) -> bytes | str:
    try:
        return check_payload(payload)
    except InvalidRequestContent:
        return "refused"
    except RecursionError:
        return "RecursionError"


def _same(payload: bytes) -> None:
    ours, theirs = _checked(payload), _json_only(payload)
    if isinstance(theirs, bytes):
        assert ours == theirs, payload
    else:
        assert ours in ("refused", theirs), (payload, ours, theirs)


TRICKY = [
    b"\xef\xbb\xbf{}", b'{"a":"\x01"}', b'"\\ud800"', b'"\xed\xa0\x80"', b"NaN", b"-Infinity",
    b'{"a":1e400}', b"1" * 400, b"[1,]", b'{"a":1}{"b":2}', b"\x0c{}", b"\t[] ", b"01", b"-0",
    b'"\\u0000"', b'"\x7f"', b"\xff", b"   ", b"", b"[" * 3000 + b"]" * 3000, b"{}" * 2,
]  # fmt: skip


@pytest.mark.parametrize("payload", TRICKY)
def test_tricky_payloads_are_judged_as_json_judged_them(payload: bytes) -> None:
    _same(payload)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_are_judged_as_json_judged_them(payload: bytes) -> None:
    _same(payload)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_VALUES, st.integers(min_value=0, max_value=64), st.binary(max_size=2))
def test_json_documents_and_their_mutations(value: object, cut: int, junk: bytes) -> None:
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    _same(text)
    _same(text[:cut] + junk + text[cut:])


def test_the_error_still_names_the_position() -> None:
    with pytest.raises(InvalidRequestContent) as err:
        check_payload(b'{"a": tru}')
    assert "line: 1, column: 7" in str(err.value)
