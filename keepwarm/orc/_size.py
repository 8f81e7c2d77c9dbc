"""A bounded, cheap estimate of how much memory a cached value holds.

Exact accounting is impossible in Python (shared objects, allocator overhead), and walking a huge
value on every ``set`` would cost more than the cache saves. So the walk is capped at ``budget``
objects: a big container sizes a sample of its elements, spread over its whole length, and scales
their sizes by its length. Each container extrapolates from its own elements only, so the table
of a huge dict is counted once, not taken for a typical element.

Objects met twice are stored once, so each sampled element is charged only what it adds to what
was met before it. But the first element to reach an object that all of them share (one table
behind every row) then pays for it, and scaling that element up counts the shared object once
per element. So the walk numbers objects in the order met and remembers which element of which
container paid for each: when another element of the same container reaches it, at any depth,
its cost is kept once but left out of what that container extrapolates. (An object nested in
another shared one may be left out twice; a floor of zero bounds that.)

The sample is chosen from a probe over the whole container, not from its first element: atoms
cost one visit each, while a nested container needs a share of the budget to be measured in
depth, so the two kinds are sampled and extrapolated apart, in the proportions the probe met.
Positions are randomly jittered (seeded, so estimates repeat) and nested containers are taken in
random order, so that a period in the data (every tenth element big) cannot match the stride.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections.abc import Collection, Iterator
from functools import cached_property
from itertools import chain, islice, repeat
from random import Random

_ATOMS = (str, bytes, bytearray, memoryview, int, float, complex, bool, type(None))
DEFAULT_BUDGET = 4096
# The nested containers of a container split the budget left this many ways, so that they are
# measured in depth; more are sampled only while the shares last.
_SPREAD = 64
# The walk recurses; deeper than this it goes on iteratively (see _Walk.chain): no overflow.
_MAX_DEPTH = 100

_Unit = tuple[object, ...]


def estimate(obj: object, budget: int = DEFAULT_BUDGET) -> int:
    """About ``budget`` objects are measured at most, so ``set`` stays cheap for any value."""
    return round(_Walk().size(obj, max(budget, 1), 0)[0])


class _Walk:
    """The objects met so far, numbered in the order first met, with what each one cost then."""

    def __init__(self) -> None:
        self.number: dict[int, int] = {}
        self.cost: list[float] = []
        # Numbers of objects met again, until the container whose elements share them claims them.
        self.hits: list[int] = []

    @cached_property
    def rng(self) -> Random:
        """Seeded, so that the same value always gets the same estimate; made only if needed."""
        return Random(0)

    def size(self, obj: object, budget: int, depth: int) -> tuple[float, int]:
        """(bytes, objects visited)."""
        if depth >= _MAX_DEPTH:
            return self.chain(obj, budget)
        if id(obj) in self.number:
            self.hits.append(self.number[id(obj)])
            return 0.0, 1
        number = self.meet(obj)
        total, used, view = float(sys.getsizeof(obj)), 1, _view(obj)
        if view and budget >= 2:
            tally = _Tally(self, number)
            used += tally.measure(view, budget - 1, depth + 1)
            total += tally.total(len(view))
        self.cost[number] = total
        return total, used

    def meet(self, obj: object) -> int:
        number = self.number[id(obj)] = len(self.cost)
        self.cost.append(0.0)
        return number

    def chain(self, obj: object, budget: int) -> tuple[float, int]:
        """Past ``_MAX_DEPTH`` a value is usually a chain (a linked list), which no sample spreads
        over: follow it unsampled, without recursing, as far as the budget goes."""
        stack, total, used = [obj], 0.0, 0
        while stack and used < budget:
            item = stack.pop()
            used += 1
            if id(item) in self.number:
                self.hits.append(self.number[id(item)])
                continue
            self.cost[self.meet(item)] = size = sys.getsizeof(item)
            total += size
            stack.extend(islice(_elements(_view(item)), budget - used))
        return total, used


class _Tally:
    """One container's sampled elements, and what they say about the rest of it."""

    def __init__(self, walk: _Walk, number: int) -> None:
        self.walk, self.number = walk, number
        self.starts: list[int] = []  # the first number each sampled element could give out
        self.sizes: list[float] = []
        self.boxed: list[bool] = []  # whether the element holds a container
        self.shared: dict[int, int] = {}  # object number -> the sampled element that paid for it
        self.probed = self.probed_boxes = 0

    def measure(self, view: Collection[object], budget: int, depth: int) -> int:
        """Atoms first, at one visit each. Nested containers, in random order, then get equal
        shares of what is left, as many as it pays for: cheap ones are sampled widely."""
        width = 2 if isinstance(view, dict) else 1
        wanted = min(len(view), max(1, budget // width))
        probe = _sample(view, wanted, self.walk.rng) if wanted < len(view) else list(_units(view))
        flat: list[_Unit] = []
        boxes: list[_Unit] = []
        for unit in probe:
            (boxes if _holds_container(unit) else flat).append(unit)
        self.probed, self.probed_boxes = len(probe), len(boxes)
        if boxes and len(flat) > budget // (2 * width):  # half is kept for the containers
            flat = self.walk.rng.sample(flat, budget // (2 * width))
        used = sum(self.add(unit, budget, depth, False) for unit in flat)
        if len(boxes) > 1:
            self.walk.rng.shuffle(boxes)
        share = (budget - used) // min(len(boxes), _SPREAD) if boxes else 0
        for unit in boxes:
            if used >= budget or budget - used < share:
                break
            used += self.add(unit, share, depth, True)
        return used

    def add(self, unit: _Unit, share: int, depth: int, boxed: bool) -> int:
        mark, size, used = len(self.walk.hits), 0.0, 0
        self.starts.append(len(self.walk.cost))
        for part in unit:
            part_size, cost = self.walk.size(part, max(1, share - used), depth)
            size, used = size + part_size, used + cost
        self.sizes.append(size)
        self.boxed.append(boxed)
        if len(self.walk.hits) > mark:
            self.walk.hits[mark:] = [n for n in self.walk.hits[mark:] if not self.claim(n)]
        return used

    def claim(self, number: int) -> bool:
        """Whether the object met again is this container's business: if an earlier sampled
        element paid for it, it is shared between the two. Older objects are for an outer one."""
        if number < self.number:
            return False
        element = bisect_right(self.starts, number) - 1
        if 0 <= element < len(self.starts) - 1:
            self.shared[number] = element
        return True

    def total(self, count: int) -> float:
        """What was measured, plus the unsampled elements of each kind, taken to cost what the
        sampled ones of that kind paid for themselves alone."""
        alone = list(self.sizes)
        for number, element in self.shared.items():
            alone[element] -= self.walk.cost[number]
        total = sum(self.sizes)
        for boxed, probed in ((False, self.probed - self.probed_boxes), (True, self.probed_boxes)):
            own = [max(0.0, a) for a, b in zip(alone, self.boxed, strict=True) if b == boxed]
            if own:
                total += max(0.0, count * probed / self.probed - len(own)) * sum(own) / len(own)
        return total


def _holds_container(unit: _Unit) -> bool:
    return not all(map(isinstance, unit, repeat(_ATOMS)))


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


def _positions(count: int, wanted: int, rng: Random) -> Iterator[int]:
    """One position in each of ``wanted`` equal stretches, at a random offset within it."""
    for i in range(wanted):
        start, end = i * count // wanted, (i + 1) * count // wanted
        yield start + int(rng.random() * (end - start))


def _sample(view: Collection[object], wanted: int, rng: Random) -> list[_Unit]:
    """``wanted`` elements spread over the whole container, so that sizes growing along the value
    are represented. Dicts and sets are stepped through with ``islice``, which skips in C."""
    if isinstance(view, list | tuple):
        return [(view[i],) for i in _positions(len(view), wanted, rng)]
    units = _units(view)
    sample, at = [], 0
    for i in _positions(len(view), wanted, rng):
        sample.append(next(islice(units, i - at, None)))
        at = i + 1
    return sample


def _units(view: Collection[object]) -> Iterator[_Unit]:
    return iter(view.items() if isinstance(view, dict) else zip(view))


def _attributes(item: object) -> Iterator[object]:
    attrs = getattr(item, "__dict__", None)
    if attrs is not None:
        yield attrs
    for slot in getattr(type(item), "__slots__", ()):
        value = getattr(item, slot, None)
        if value is not None:
            yield value
