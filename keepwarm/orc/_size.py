"""A bounded, cheap estimate of how much memory a cached value holds.

Exact accounting is impossible in Python (shared objects, allocator overhead), and walking a huge
value on every ``set`` would cost more than the cache saves. So the walk is capped at ``budget``
objects: a big container sizes a sample of its elements, spread over its whole length, and scales
their total by its length. Each container extrapolates from its own elements only, so the table
of a huge dict is counted once, not taken for a typical element. The estimate only needs to be
good enough to keep a cache well inside its environment's memory.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator
from itertools import chain, islice

_ATOMS = (str, bytes, bytearray, memoryview, int, float, complex, bool, type(None))
DEFAULT_BUDGET = 4096
# Elements sampled from a container of containers; each gets an equal share of the budget, so
# that the sampled elements are measured in depth rather than many of them shallowly.
_SPREAD = 64
# The walk recurses; deeper than this it goes on iteratively (see _chain), so it cannot overflow.
_MAX_DEPTH = 100

_Unit = tuple[object, ...]


def estimate(obj: object, budget: int = DEFAULT_BUDGET) -> int:
    """About ``budget`` objects are measured at most, so ``set`` stays cheap for any value."""
    return round(_size(obj, max(budget, 1), set(), 0)[0])


def _size(obj: object, budget: int, seen: set[int], depth: int) -> tuple[float, int]:
    """(bytes, objects visited). An object met twice is stored once, so it is counted once."""
    if depth >= _MAX_DEPTH:
        return _chain(obj, budget, seen)
    if id(obj) in seen:
        return 0.0, 1
    seen.add(id(obj))
    own = float(sys.getsizeof(obj))
    view = _view(obj)
    if not view or budget < 2:
        return own, 1
    wanted = _wanted(view, budget - 1)
    tally, used = _Tally(), 1
    # Atoms first: they cost one visit each, and the containers then share what is left, so
    # the link of a chain (``[rest, value]``) is not starved by an even split.
    for unit in sorted(_sample(view, wanted), key=_holds_container):
        if used >= budget:
            break
        used += tally.add(unit, (budget - used) // (wanted - tally.units), seen, depth + 1)
    return own + tally.total(len(view)), used


class _Tally:
    """One container's sampled elements, and what they say about the rest of it.

    An element met again within the sample is shared (``[row] * n``, one default for every key),
    so multiplying it by the container's length would count it n times. As in Good-Turing
    estimation, the unsampled elements are taken to resemble those met exactly once.
    """

    def __init__(self) -> None:
        self.units = 0
        self.found = 0.0
        self.sizes: dict[tuple[int, int], float] = {}
        self.counts: dict[tuple[int, int], int] = {}

    def add(self, unit: _Unit, share: int, seen: set[int], depth: int) -> int:
        """Key and value are tallied apart: keys are distinct even when every value is shared."""
        used = 0
        for position, part in enumerate(unit):
            size, cost = _size(part, max(1, share - used), seen, depth)
            tag = (position, id(part))
            self.counts[tag] = self.counts.get(tag, 0) + 1
            self.sizes.setdefault(tag, size)
            self.found, used = self.found + size, used + cost
        self.units += 1
        return used

    def total(self, count: int) -> float:
        singles = sum(self.sizes[tag] for tag, n in self.counts.items() if n == 1)
        return self.found + (count - self.units) * singles / self.units


def _chain(obj: object, budget: int, seen: set[int]) -> tuple[float, int]:
    """Past ``_MAX_DEPTH`` a value is usually a chain (a linked list), which no sample spreads
    over: follow it unsampled, without recursing, as far as the budget goes."""
    stack, total, used = [obj], 0.0, 0
    while stack and used < budget:
        item = stack.pop()
        used += 1
        if id(item) not in seen:
            seen.add(id(item))
            total += sys.getsizeof(item)
            stack.extend(islice(_elements(_view(item)), budget - used))
    return total, used


def _holds_container(unit: _Unit) -> bool:
    return not all(isinstance(part, _ATOMS) for part in unit)


def _elements(view: Collection[object] | None) -> Iterator[object]:
    if isinstance(view, dict):
        return chain.from_iterable(view.items())
    return iter(view or ())


def _view(obj: object) -> Collection[object] | None:
    """Other objects hold their data in ``__dict__`` and slots, so those are walked instead."""
    if isinstance(obj, _ATOMS):
        return None
    if isinstance(obj, dict | list | tuple | set | frozenset):
        return obj
    return list(_attributes(obj))


def _wanted(view: Collection[object], budget: int) -> int:
    """Atoms cost one visit each, so take as many as the budget pays for; containers, a spread."""
    first = next(_sample(view, 1))
    if not _holds_container(first):
        return max(1, min(len(view), budget // len(first)))
    return max(1, min(len(view), _SPREAD, budget))


def _sample(view: Collection[object], wanted: int) -> Iterator[_Unit]:
    """``wanted`` elements evenly spaced, so that sizes growing along the value are represented.

    Sequences are indexed directly; dicts and sets are stepped through with ``islice``, which
    skips the unsampled elements in C.
    """
    count = len(view)
    if isinstance(view, list | tuple):
        return ((view[i * count // wanted],) for i in range(wanted))
    step = count // wanted
    units = view.items() if isinstance(view, dict) else zip(view)
    return islice(units, 0, step * wanted, step)


def _attributes(item: object) -> Iterator[object]:
    attrs = getattr(item, "__dict__", None)
    if attrs is not None:
        yield attrs
    for slot in getattr(type(item), "__slots__", ()):
        value = getattr(item, slot, None)
        if value is not None:
            yield value
