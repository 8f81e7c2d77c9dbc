"""A bounded, cheap estimate of how much memory a cached value holds.

Exact accounting is impossible in Python (shared objects, allocator overhead), and walking a huge
value on every ``set`` would cost more than the cache saves. So the walk is capped: past
``budget`` objects, the unvisited remainder is extrapolated from the mean size seen so far. The
estimate only needs to be good enough to keep a cache well inside its environment's memory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

_ATOMS = (str, bytes, bytearray, memoryview, int, float, complex, bool, type(None))
DEFAULT_BUDGET = 4096


def estimate(obj: object, budget: int = DEFAULT_BUDGET) -> int:
    seen: set[int] = set()
    stack: list[object] = [obj]
    total = visited = 0
    while stack and visited < budget:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        visited += 1
        total += sys.getsizeof(item)
        if not isinstance(item, _ATOMS):
            stack.extend(_children(item))
    if stack:
        total += len(stack) * total // visited
    return total


def _children(item: object) -> Iterable[object]:
    if isinstance(item, dict):
        yield from item.keys()
        yield from item.values()
    elif isinstance(item, list | tuple | set | frozenset):
        yield from item
    else:
        attrs = getattr(item, "__dict__", None)
        if attrs is not None:
            yield attrs
        for slot in getattr(type(item), "__slots__", ()):
            value = getattr(item, slot, None)
            if value is not None:
                yield value
