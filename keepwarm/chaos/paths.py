"""``--ignore-field`` paths: ``requestId``, ``body.timestamp``, ``items[*].id``, ``["a.b"]``.

Why a path language at all: results that carry a timestamp or a fresh id differ on every call,
reuse or not; dropping exactly those fields keeps the comparison about environment reuse.
"""

from __future__ import annotations

import json
import re
from typing import Any

WILDCARD = "*"
_TOKEN = re.compile(r'\.?([A-Za-z0-9_$@:\-]+|\*)|\[(\d+|\*|"(?:[^"\\]|\\.)*")\]')
Step = str | int


def parse_path(spec: str) -> list[Step]:
    """Steps of a field path; ``ValueError`` with the offending text when it does not parse."""
    steps: list[Step] = []
    pos = 0
    while pos < len(spec):
        match = _TOKEN.match(spec, pos)
        if match is None or (pos == 0 and spec.startswith(".")):
            raise ValueError(f"bad field path {spec!r} at {spec[pos:]!r}")
        name, bracket = match.groups()
        if name is not None:
            steps.append(name)
        elif bracket == WILDCARD or bracket.startswith('"'):
            steps.append(WILDCARD if bracket == WILDCARD else str(json.loads(bracket)))
        else:
            steps.append(int(bracket))
        pos = match.end()
    if not steps:
        raise ValueError("empty field path")
    return steps


def drop_fields(value: Any, steps: list[Step]) -> Any:
    """``value`` without the field(s) at ``steps`` (a copy; missing fields are ignored)."""
    if not steps:
        return value
    head, rest = steps[0], steps[1:]
    if isinstance(value, dict):
        keys = list(value) if head == WILDCARD else [head] if head in value else []
        out = dict(value)
        for key in keys:
            if rest:
                out[key] = drop_fields(value[key], rest)
            else:
                del out[key]
        return out
    if isinstance(value, list):
        indexes: list[int] = []
        if head == WILDCARD:
            indexes = list(range(len(value)))
        elif isinstance(head, int) and 0 <= head < len(value):
            indexes = [head]
        items = list(value)
        for i in sorted(indexes, reverse=True):
            if rest:
                items[i] = drop_fields(value[i], rest)
            else:
                del items[i]
        return items
    return value
