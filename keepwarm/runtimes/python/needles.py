"""The event's distinctive values, indexed once per invocation for the leak detector's searches.

Why apart from the walk: what counts as request data (string leaves of at least 6 characters,
numbers of at least 6 digits) and what matching it costs are one decision, shared by the walk
over globals, the ``/tmp`` scan and the masking of dict keys; keeping it here keeps those
thresholds and search bounds in one place. Standard library only: this runs in the child.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from typing import Any

MIN_CHARS = 6
MIN_DIGITS = 6
MAX_NEEDLES = 1000
MAX_SEARCH = 64 * 1024
_LOOP_SEARCH = 8
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Field = tuple[Any, ...]


def field_name(parts: Field) -> str:
    """``items[0].id``: the JSON path a person would write for an event field."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "<event>"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def digits(value: int | float) -> int:
    return sum(ch.isdigit() for ch in repr(value))


class Needles:
    """The event's distinctive values, indexed for exact and substring search.

    The regular expressions are built only when first needed: most scans end on exact and
    ``in`` checks, and compiling per event would cost more than the scan of a small handler.
    """

    def __init__(self, event: Any) -> None:
        self.strings: dict[str, Field] = {}
        self.numbers: dict[int | float, Field] = {}
        for parts, value in _leaves(event):
            if len(self.strings) + len(self.numbers) >= MAX_NEEDLES:
                break
            if isinstance(value, str) and len(value) >= MIN_CHARS:
                self.strings.setdefault(value, parts)
            elif is_number(value) and digits(value) >= MIN_DIGITS:
                self.numbers.setdefault(value, parts)
                self.strings.setdefault(str(value), parts)
        self._texts = sorted(self.strings, key=len, reverse=True)
        self._pattern: re.Pattern[str] | None = None
        self._bytes: dict[bytes, Field] | None = None
        self._bytes_pattern: re.Pattern[bytes] | None = None

    def __bool__(self) -> bool:
        return bool(self.strings)

    def in_text(self, text: str) -> Field | None:
        """The field whose value is ``text`` or occurs in it (first 64 KiB searched)."""
        hit = self.strings.get(text)
        if hit is not None:
            return hit
        if len(self._texts) <= _LOOP_SEARCH:
            window = text[:MAX_SEARCH]
            for needle in self._texts:
                if needle in window:
                    return self.strings[needle]
            return None
        if self._pattern is None:
            self._pattern = re.compile("|".join(map(re.escape, self._texts)))
        found = self._pattern.search(text, 0, MAX_SEARCH)
        return self.strings[found.group()] if found else None

    def in_bytes(self, blob: bytes) -> Field | None:
        """Also finds values written as JSON (escaped), as ``json.dump`` to a file does."""
        if not self._texts:
            return None
        if self._bytes is None:
            self._bytes = {}
            for text in self._texts:
                for form in (text, json.dumps(text)[1:-1]):
                    encoded = form.encode("utf-8", "surrogatepass")
                    self._bytes.setdefault(encoded, self.strings[text])
            blobs = sorted(self._bytes, key=len, reverse=True)
            self._bytes_pattern = re.compile(b"|".join(map(re.escape, blobs)))
        assert self._bytes_pattern is not None
        found = self._bytes_pattern.search(blob)
        return self._bytes[found.group()] if found else None


def _leaves(event: Any) -> Iterator[tuple[Field, Any]]:
    queue: deque[tuple[Field, Any]] = deque([((), event)])
    while queue:
        parts, value = queue.popleft()
        if isinstance(value, dict):
            queue.extend(((*parts, str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            queue.extend(((*parts, i), v) for i, v in enumerate(value))
        else:
            yield parts, value
