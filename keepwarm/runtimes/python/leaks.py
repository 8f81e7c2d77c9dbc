"""Dynamic leak detection: request data still reachable after an invocation has ended.

Why inside the environment: only this process can see its own globals and its own ``/tmp``.
After each invocation the values taken from the event (string leaves of at least 6 characters,
numbers of at least 6 digits) are looked for in the globals of the user's modules (those whose
file is under the task root) and in the ``/tmp`` files the invocation created or changed.

The walk is bounded (depth, node count, bytes read) and follows only what user code owns:
builtin containers, instances and classes defined in user modules, and the closures, defaults
and attributes of user functions. Third-party objects (SDK clients, bounded caches) stay opaque,
which keeps the cost predictable and library internals out of the findings. Values already
reachable right after Init (configuration, constants) never count as leaks.

Standard library only, and nothing from the keepwarm server: this module runs in the child.
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from keepwarm.runtimes.python.needles import (
    MAX_SEARCH,
    MIN_CHARS,
    MIN_DIGITS,
    Field,
    Needles,
    digits,
    field_name,
    is_number,
)

MAX_DEPTH = 16
MAX_NODES = 200_000
MAX_FINDINGS = 50
TMP_MAX_DEPTH = 4
TMP_MAX_ENTRIES = 5000
TMP_MAX_FILES = 64
TMP_MAX_READ = 256 * 1024
_MIN_NUMBER = 10 ** (MIN_DIGITS - 1)
_SKIP_PACKAGES = ("keepwarm.",)

Path = tuple[Any, ...]  # (parent path, kind, key) linked list; rendered only for findings
TmpState = dict[str, tuple[int, int]]


# -- what the event carried ----------------------------------------------------------------
def decode_event(body: bytes, content_type: str) -> Any:
    """The event as the handler saw it (JSON), or its text for other content types."""
    if content_type == "application/json":
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body.decode("utf-8", "replace")


# -- where user state lives ----------------------------------------------------------------
_OWNED: dict[str, tuple[int, bool]] = {}


def user_modules(task_root: str) -> list[tuple[str, types.ModuleType]]:
    """Modules loaded from the code directory (vendored site-packages and keepwarm excluded).

    Classification is cached per module object: ``realpath`` of every module on every scan
    would cost milliseconds.
    """
    root = os.path.join(os.path.realpath(task_root), "")
    found = []
    for name, module in list(sys.modules.items()):
        known = _OWNED.get(name)
        if known is None or known[0] != id(module):
            known = _OWNED[name] = (id(module), _under(module, name, root))
        if known[1]:
            found.append((name, module))
    return sorted(found, key=lambda item: item[0])


def _under(module: Any, name: str, root: str) -> bool:
    path = getattr(module, "__file__", None)
    if (
        not isinstance(path, str)
        or name in ("keepwarm", "__main__")
        or name.startswith(_SKIP_PACKAGES)
    ):
        return False
    real = os.path.realpath(path)
    return real.startswith(root) and "-packages" + os.sep not in real[len(root) :]


def render(path: Path, masks: Callable[[Any], str | None] | None = None) -> str:
    """A location in Python syntax: ``app.CACHE['k'][0]``, ``app.handler.<locals>.last``."""
    steps: list[tuple[str, Any]] = []
    node = path
    while node[0] is not None:
        steps.append((node[1], node[2]))
        node = node[0]
    out = str(node[2])
    for kind, key in reversed(steps):
        if kind == "attr":
            out += f".{key}"
        elif kind == "locals":
            out += f".<locals>.{key}"
        elif kind == "keys":
            out += ".keys()"
        elif kind == "item":
            out += f"[{_key_text(key, masks)}]"
    return out


def _key_text(key: Any, masks: Callable[[Any], str | None] | None) -> str:
    masked = masks(key) if masks is not None else None
    if masked is not None:
        return masked
    text = repr(key) if isinstance(key, str | int | float | bool | tuple | None) else "..."
    return text if len(text) <= 60 else text[:56] + "...]"


def _dunder(name: str) -> bool:
    """Python's own names (``__name__``, ``__builtins__``); ``__private`` ones are the user's."""
    return name.startswith("__") and name.endswith("__")


class _Walk:
    """One bounded walk over user state; without needles it collects leaves (the baseline).

    Scalars are checked where they are found and never pushed; a path is a linked tuple
    ``(parent, kind, key)`` built for containers and, for scalars, only when one matches.
    """

    def __init__(self, user: set[str], needles: Needles | None, ignore: frozenset[Any]) -> None:
        self.user = user
        self.needles = needles
        self.ignore = ignore
        self.collected: set[Any] = set()
        self.findings: dict[Path, Field] = {}
        self.truncated = False

    def run(self, roots: list[tuple[str, types.ModuleType]]) -> None:
        seen = {id(module) for _, module in roots}
        stack: list[tuple[Any, Path, int]] = []
        for name, module in reversed(roots):
            top = (None, "root", name)
            for key, value in reversed(list(vars(module).items())):
                if _dunder(key) or issubclass(type(value), types.ModuleType):
                    continue
                if not self._leaf(value, top, "attr", key):
                    stack.append((value, (top, "attr", key), 0))
        nodes = 0
        while stack and len(self.findings) < MAX_FINDINGS:
            value, path, depth = stack.pop()
            if id(value) in seen or depth >= MAX_DEPTH:
                continue
            seen.add(id(value))
            nodes += 1
            if nodes > MAX_NODES:
                self.truncated = True
                return
            try:
                for child, kind, key in self._children(value):
                    if not self._leaf(child, path, kind, key):
                        stack.append((child, (path, kind, key), depth + 1))
            except Exception:  # user objects may refuse inspection; skip just this one
                continue

    def _leaf(self, value: Any, parent: Path, kind: str, key: Any) -> bool:
        """Match (or collect) a scalar; True when ``value`` has no children."""
        cls = type(value)
        if cls is str:
            if len(value) >= MIN_CHARS:
                if self.needles is None:
                    self.collected.add(value)
                elif value not in self.ignore:
                    self._hit(self.needles.in_text(value), parent, kind, key)
            return True
        if cls is int or cls is float:
            if self.needles is not None:  # a needle has 6+ digits, whatever its magnitude
                if value not in self.ignore:
                    self._hit(self.needles.numbers.get(value), parent, kind, key)
            elif abs(value) >= _MIN_NUMBER or (cls is float and digits(value) >= MIN_DIGITS):
                self.collected.add(value)
            return True
        if cls is bytes or cls is bytearray:
            if self.needles is not None and len(value) >= MIN_CHARS:
                self._hit(self.needles.in_bytes(bytes(value[:MAX_SEARCH])), parent, kind, key)
            return True
        return cls is bool or value is None

    def _hit(self, field: Field | None, parent: Path, kind: str, key: Any) -> None:
        if field is not None and len(self.findings) < MAX_FINDINGS:
            self.findings.setdefault(parent if kind == "member" else (parent, kind, key), field)

    def _children(self, value: Any) -> Iterator[tuple[Any, str, Any]]:
        """Checks go by ``type(value)`` and containers are read through their base type's
        methods: ``isinstance``, an overridden ``items`` or ``__iter__`` would run user code
        (checking must not change what the next invocation sees)."""
        cls = type(value)
        if issubclass(cls, dict):
            for key, item in list(dict.items(value)):
                yield key, "keys", None
                yield item, "item", key
        elif issubclass(cls, list | tuple | deque):
            for index, item in enumerate(_members(cls, value)):
                yield item, "item", index
        elif issubclass(cls, set | frozenset):
            for item in _members(cls, value):
                yield item, "member", None
        elif cls is types.FunctionType:
            yield from self._function(value)
        elif cls is staticmethod or cls is classmethod:
            yield value.__func__, "member", None
        elif issubclass(cls, type):
            yield from self._class(value)
        elif cls.__module__ in self.user or cls is types.SimpleNamespace:
            yield from _attributes(value)

    def _class(self, cls: type) -> Iterator[tuple[Any, str, Any]]:
        if cls.__module__ not in self.user:
            return
        for key, item in list(vars(cls).items()):
            if not _dunder(key) and not issubclass(type(item), property):
                yield item, "attr", key

    def _function(self, fn: types.FunctionType) -> Iterator[tuple[Any, str, Any]]:
        if fn.__module__ not in self.user:
            return
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
            try:
                yield cell.cell_contents, "locals", name
            except ValueError:
                continue
        if fn.__defaults__:
            yield fn.__defaults__, "attr", "__defaults__"
        if fn.__kwdefaults__:
            yield fn.__kwdefaults__, "attr", "__kwdefaults__"
        yield from _attributes(fn)


_BASES = (list, tuple, deque, set, frozenset)


def _members(cls: type, value: Any) -> list[Any]:
    base = next(b for b in _BASES if issubclass(cls, b))
    return list(base.__iter__(value))


def _attributes(value: Any) -> Iterator[tuple[Any, str, Any]]:
    try:  # not getattr: that runs the object's own __getattribute__
        attrs = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return
    if type(attrs) is dict:
        for key, item in list(attrs.items()):
            yield item, "attr", key


# -- /tmp ----------------------------------------------------------------------------------
def tmp_roots() -> list[str]:
    """``/tmp`` and, when it is elsewhere (no mount namespace), the environment's TMPDIR."""
    roots = ["/tmp"]
    other = os.environ.get("TMPDIR")
    if other and os.path.realpath(other) != os.path.realpath("/tmp"):
        roots.append(other)
    return roots


def tmp_snapshot(roots: list[str]) -> TmpState:
    """Regular files under ``roots`` with (mtime, size), bounded in depth and entries."""
    state: TmpState = {}
    pending = [(root, 0) for root in roots]
    while pending and len(state) < TMP_MAX_ENTRIES:
        folder, depth = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth + 1 < TMP_MAX_DEPTH and not os.path.ismount(entry.path):
                        pending.append((entry.path, depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    state[entry.path] = (info.st_mtime_ns, info.st_size)
            except OSError:
                continue
    return state


def tmp_leaks(before: TmpState, after: TmpState, needles: Needles) -> dict[str, Field]:
    """New or changed files whose first bytes contain an event value."""
    found: dict[str, Field] = {}
    changed = sorted(path for path, stamp in after.items() if before.get(path) != stamp)
    for path in changed[:TMP_MAX_FILES]:
        try:
            with open(path, "rb") as fh:
                blob = fh.read(TMP_MAX_READ)
        except OSError:
            continue
        hit = needles.in_bytes(blob)
        if hit is not None:
            found[path] = hit
    return found


# -- the runtime's entry points ------------------------------------------------------------
class LeakDetector:
    """Used by the bootstrap: ``after_init`` once, then ``before``/``after`` per invocation."""

    def __init__(self, task_root: str | None = None) -> None:
        self.task_root = task_root or os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
        self.roots = tmp_roots()
        self.baseline: frozenset[Any] = frozenset()
        self.truncated = False
        self._tmp: TmpState = {}

    def after_init(self) -> None:
        """Remember what is reachable before any event: configuration is not a leak."""
        modules = user_modules(self.task_root)
        walk = _Walk({name for name, _ in modules}, None, frozenset())
        walk.run(modules)
        self.baseline = frozenset(walk.collected)

    def before(self) -> None:
        self._tmp = tmp_snapshot(self.roots)

    def after(self, request_id: str, event: Any) -> list[dict[str, str]]:
        """The LEAK records for the invocation that just ended (empty when nothing leaked)."""
        needles = Needles(event)
        if not needles:
            return []
        modules = user_modules(self.task_root)
        walk = _Walk({name for name, _ in modules}, needles, self.baseline)
        walk.run(modules)
        self.truncated = walk.truncated
        masks = _masker(needles)
        records = [
            _record(request_id, render(path, masks), parts) for path, parts in walk.findings.items()
        ]
        tmp = tmp_leaks(self._tmp, tmp_snapshot(self.roots), needles)
        records += [_record(request_id, path, parts) for path, parts in tmp.items()]
        return records


def _record(request_id: str, location: str, parts: Field) -> dict[str, str]:
    return {"requestId": request_id, "location": location, "field": field_name(parts)}


def _masker(needles: Needles) -> Callable[[Any], str | None]:
    """Dict keys that are event values are shown as the event expression, never as the value."""

    def mask(key: Any) -> str | None:
        parts = needles.strings.get(key) if isinstance(key, str) else None
        if parts is None and is_number(key):
            parts = needles.numbers.get(key)
        if parts is None:
            return None
        return "event" + "".join(f"[{p!r}]" for p in parts)

    return mask
