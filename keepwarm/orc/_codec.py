"""How values cross the network to the shared tier, safely by default.

Every stored value carries a one-byte format tag and its absolute expiry, so environments with
different optional libraries can still read each other's entries (or at least recognise what they
cannot read), and a reader never unpickles bytes from the network unless its cache opted in.
The expiry travels with the value, so an entry copied into L1 keeps its original deadline
instead of getting a fresh TTL with each hop.
"""

from __future__ import annotations

import json
import struct
from typing import Any

_JSON, _MSGPACK, _PICKLE = b"j", b"m", b"p"
_HEADER = struct.Struct(">cQ")
FORMATS = ("auto", "json", "msgpack", "pickle")


class DecodeRefused(Exception):
    """The entry exists but this cache may not or cannot decode it."""


def _msgpack() -> Any:
    try:
        import msgpack  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    return msgpack


class Codec:
    def __init__(self, fmt: str = "auto", allow_pickle: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"serializer must be one of {FORMATS}, got {fmt!r}")
        if fmt == "pickle" and not allow_pickle:
            raise ValueError(
                "serializer='pickle' needs allow_pickle=True: pickle runs code on load"
            )
        self._msgpack: Any = _msgpack() if fmt in ("auto", "msgpack") else None
        if fmt == "msgpack" and self._msgpack is None:
            raise ImportError("serializer='msgpack' needs the msgpack package")
        self._tag = _PICKLE if fmt == "pickle" else _MSGPACK if self._msgpack else _JSON
        self._allow_pickle = allow_pickle

    def dumps(self, value: object, expires_at_ms: int) -> bytes:
        header = _HEADER.pack(self._tag, expires_at_ms)
        if self._tag == _JSON:
            return header + json.dumps(value, separators=(",", ":")).encode()
        if self._tag == _MSGPACK:
            return header + bytes(self._msgpack.packb(value, use_bin_type=True))
        import pickle

        return header + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, raw: bytes) -> tuple[object, int]:
        """Return ``(value, expires_at_ms)``; 0 means no expiry."""
        if len(raw) < _HEADER.size:
            raise DecodeRefused("entry too short")
        tag, expires_at_ms = _HEADER.unpack_from(raw)
        body = memoryview(raw)[_HEADER.size :]
        if tag == _JSON:
            return json.loads(bytes(body)), expires_at_ms
        if tag == _MSGPACK and self._msgpack is not None:
            return self._msgpack.unpackb(body, raw=False, strict_map_key=False), expires_at_ms
        if tag == _PICKLE and self._allow_pickle:
            import pickle

            return pickle.loads(body), expires_at_ms
        raise DecodeRefused(f"entry format {tag!r} not readable by this cache")
