"""The fast transport's framing (runtimes/python/wire.py), used by the server and the runtime.

Metas go through orjson with ``json`` behind it; whatever either side writes, the other reads
back to the same values, whole or in pieces.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepwarm.runtimes.python import wire

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # orjson reads wider ones as floats
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_metas = st.dictionaries(
    st.text(),
    st.recursive(_scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)),
    max_size=6,
)


def _whole(data: bytes) -> list[tuple[dict[str, Any], bytes]]:
    return wire.FrameBuffer().feed(data)


@given(_metas, st.binary(max_size=64))
def test_a_meta_and_body_come_back_as_sent(meta: dict[str, Any], body: bytes) -> None:
    assert _whole(wire.encode(meta, body)) == [(meta, body)]


@given(st.lists(st.tuples(_metas, st.binary(max_size=16)), min_size=1, max_size=4))
def test_frames_fed_a_byte_at_a_time_read_the_same(frames: list[Any]) -> None:
    data = b"".join(wire.encode(meta, body) for meta, body in frames)
    buffer = wire.FrameBuffer()
    got = [frame for i in range(len(data)) for frame in buffer.feed(data[i : i + 1])]
    assert got == frames


def test_what_orjson_cannot_write_takes_jsons_path() -> None:
    meta: dict[Any, Any] = {"t": "next", 7: "int key", "n": 2**63}
    assert _whole(wire.encode(meta)) == [({"t": "next", "7": "int key", "n": 2**63}, b"")]


def test_json_s_nan_and_infinity_are_read() -> None:
    raw = json.dumps({"ratio": float("nan"), "top": float("inf")}).encode()
    [(meta, body)] = _whole(wire.frame(raw, b"x"))
    assert meta["ratio"] != meta["ratio"] and meta["top"] == float("inf") and body == b"x"


def test_non_ascii_is_kept_as_is() -> None:
    assert _whole(wire.encode({"id": "é✓𝄞"})) == [({"id": "é✓𝄞"}, b"")]


@pytest.mark.parametrize("raw", [b"[1]", b"not json", b'{"a": 1} x', b"\xff\xfe", b'"s"'])
def test_a_meta_that_is_not_one_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="frame meta"):
        _whole(wire.frame(raw))
