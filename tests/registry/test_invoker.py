"""Payload validation: RFC 8259 JSON as Lambda's parser takes it. The fast orjson check decides
as ``json`` does without its non-standard constants (``NaN``, ``Infinity``, which Lambda
refuses), and a document too deep to parse is refused (400), never a RecursionError (500)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepwarm.errors import InvalidRequestContent
from keepwarm.registry.invoker import check_payload


def _no_constants(token: str) -> None:
    raise ValueError(token)


def _json_only(payload: bytes) -> bytes | str:
    """The rule, from the standard library alone: json minus NaN and the infinities."""
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return "refused"
    return payload


def _checked(payload: bytes) -> bytes | str:
    try:
        return check_payload(payload)
    except InvalidRequestContent:
        return "refused"


def _same(payload: bytes) -> None:
    assert _checked(payload) == _json_only(payload), payload


TRICKY = [
    b"\xef\xbb\xbf{}", b'{"a":"\x01"}', b'"\\ud800"', b'"\xed\xa0\x80"', b"NaN", b"-Infinity",
    b'{"a":1e400}', b"1" * 400, b"[1,]", b'{"a":1}{"b":2}', b"\x0c{}", b"\t[] ", b"01", b"-0",
    b'"\\u0000"', b'"\x7f"', b"\xff", b"   ", b"", b"[" * 3000 + b"]" * 3000, b"{}" * 2,
    b"[" * 100000, b'{"a": NaN}', b'["NaN", Infinity]', b"[" * 1025 + b"]" * 1025,
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


@pytest.mark.parametrize(
    ("payload", "token", "where"),
    [
        (b'{"a": NaN}', "NaN", "line: 1, column: 7"),
        (b'["NaN",\n  -Infinity]', "-Infinity", "line: 2, column: 3"),
        (b"[1, Infinity]", "Infinity", "line: 1, column: 5"),
    ],
)
def test_non_standard_constants_are_refused_where_they_are(
    payload: bytes, token: str, where: str
) -> None:
    with pytest.raises(InvalidRequestContent) as err:
        check_payload(payload)
    assert f"Non-standard token '{token}'" in str(err.value) and where in str(err.value)


def test_a_document_nested_too_deep_is_refused_not_an_internal_error() -> None:
    for payload in (b"[" * 100000, b"[" * 5000 + b"]" * 5000):
        with pytest.raises(InvalidRequestContent, match=r"nesting depth .* \(1024\)"):
            check_payload(payload)
    assert check_payload(b"[" * 1024 + b"]" * 1024)  # orjson's own limit is still accepted
