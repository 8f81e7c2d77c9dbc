"""KW103 for Python: files written under /tmp by handler code and never removed.

/tmp is the one piece of the filesystem a warm environment keeps. A fixed path hands one
request's file to the next; per-request paths that are never deleted fill the 512 MB quota.
We track, per function, which local names hold /tmp paths (fixed or per-request), which of
them are written, which are removed (os.remove, unlink, rmtree, TemporaryDirectory) and what
data reaches the writes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from keepwarm.audit.static.findings import Collector
from keepwarm.audit.static.pysinks import emit_at
from keepwarm.audit.static.pytaint import FunctionAnalysis, const_str
from keepwarm.audit.static.taint import Taint, tmp_write_messages

_OPENERS = frozenset({"open", "io.open", "codecs.open", "builtins.open"})
_COPIERS = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.move"})
_REMOVERS = frozenset({"os.remove", "os.unlink", "shutil.rmtree", "os.rmdir"})
_DUMPERS = frozenset({"json.dump", "pickle.dump", "yaml.dump", "yaml.safe_dump", "marshal.dump"})
_PATH_CTORS = frozenset({"pathlib.Path", "pathlib.PurePath", "str", "os.fspath"})


@dataclass(frozen=True)
class TmpPath:
    """A path under /tmp: ``fixed`` when identical on every invocation."""

    fixed: bool
    text: str
    roots: frozenset[str]
    auto_clean: bool = False


class TmpTracker:
    """Which names in one function hold /tmp paths, and which of those get removed."""

    def __init__(self, fa: FunctionAnalysis) -> None:
        self.fa = fa
        self.names: dict[str, TmpPath] = {}
        self.cleaned: set[str] = set()

    def path_of(self, node: ast.AST | None) -> TmpPath | None:
        if node is None:
            return None
        text = const_str(node)
        if text is not None:
            return TmpPath(True, text, frozenset({text})) if text.startswith("/tmp") else None
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            const = self.fa.mod.tmp_consts.get(node.id)
            return TmpPath(True, const, frozenset({const, node.id})) if const else None
        if isinstance(node, ast.JoinedStr):
            return self._joined(node)
        if isinstance(node, ast.BinOp):
            return self._concat(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _concat(self, node: ast.BinOp) -> TmpPath | None:
        """``"/tmp/" + a + b ...`` walked with a loop: long chains would exhaust the stack."""
        parts: list[ast.expr] = []
        head: ast.expr = node
        while isinstance(head, ast.BinOp):
            parts.append(head.right)
            head = head.left
        base = self.path_of(head)
        for part in reversed(parts):
            base = _extend(base, part)
        return base

    def _joined(self, node: ast.JoinedStr) -> TmpPath | None:
        head = node.values[0] if node.values else None
        base = self.path_of(head.value if isinstance(head, ast.FormattedValue) else head)
        if base is None:
            return None
        fixed = base.fixed and all(isinstance(v, ast.Constant) for v in node.values[1:])
        return TmpPath(fixed, base.text + ("" if fixed else "/{...}"), base.roots, base.auto_clean)

    def _call(self, node: ast.Call) -> TmpPath | None:
        name = self.fa.mod.canonical(node.func) or ""
        if name == "tempfile.gettempdir":
            return TmpPath(True, "/tmp", frozenset({"/tmp"}))
        if name in ("tempfile.mkdtemp", "tempfile.mktemp"):
            return TmpPath(False, "/tmp/<tempfile>", frozenset())
        if name in _PATH_CTORS and node.args:
            return self.path_of(node.args[0])
        if name == "os.path.join" and node.args:
            base = self.path_of(node.args[0])
            for part in node.args[1:]:
                base = _extend(base, part)
            return base
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("with_suffix", "joinpath"):
            base = self.path_of(node.func.value)
            return _extend(base, node.args[0]) if node.args else base
        return None

    def learn(self) -> None:
        """Bind names to /tmp paths and collect removals, to a fixpoint."""
        for _ in range(3):
            for node in self.fa.nodes():
                self._learn_node(node)

    def _learn_node(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            self._assign(node.targets, node.value)
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            name = (
                self.fa.mod.canonical(node.context_expr.func)
                if isinstance(node.context_expr, ast.Call)
                else None
            )
            if name == "tempfile.TemporaryDirectory":
                var = node.optional_vars.id
                self.names[var] = TmpPath(False, "/tmp/<tempdir>", frozenset({var}), True)
        elif isinstance(node, ast.Call):
            removed = self._removed(node)
            if removed is not None:
                self.cleaned |= removed.roots | {removed.text}

    def _assign(self, targets: list[ast.expr], value: ast.expr) -> None:
        name = self.fa.mod.canonical(value.func) if isinstance(value, ast.Call) else None
        for target in targets:
            if (
                name == "tempfile.mkstemp"
                and isinstance(target, ast.Tuple)
                and len(target.elts) == 2
                and isinstance(target.elts[1], ast.Name)
            ):
                var = target.elts[1].id
                self.names[var] = TmpPath(False, "/tmp/<mkstemp>", frozenset({var}))
            elif isinstance(target, ast.Name) and (path := self.path_of(value)):
                self.names[target.id] = TmpPath(
                    path.fixed, path.text, path.roots | {target.id}, path.auto_clean
                )

    def _removed(self, node: ast.Call) -> TmpPath | None:
        name = self.fa.mod.canonical(node.func) or ""
        if name in _REMOVERS and node.args:
            return self.path_of(node.args[0])
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("unlink", "rmdir"):
            return self.path_of(node.func.value)
        return None

    def is_cleaned(self, path: TmpPath) -> bool:
        return path.auto_clean or bool((path.roots | {path.text}) & self.cleaned)


def check_tmp(fa: FunctionAnalysis, out: Collector) -> None:
    """Report /tmp writes in ``fa`` that are never removed within the same function."""
    tracker = TmpTracker(fa)
    tracker.learn()
    handles = _handles(fa, tracker)
    for node in fa.nodes():
        if not isinstance(node, ast.Call):
            continue
        hit = _write(fa, tracker, node)
        if hit is None or tracker.is_cleaned(hit[0]):
            continue
        path, data = hit
        data = _join(data, handles.get(id(node)))
        _report(fa, node, path, data, out)


def _write(
    fa: FunctionAnalysis, tracker: TmpTracker, node: ast.Call
) -> tuple[TmpPath, Taint | None] | None:
    name = fa.mod.canonical(node.func) or ""
    if name in _OPENERS and node.args:
        path = tracker.path_of(node.args[0])
        if path and _writes(_mode(node, 1)):
            return path, None
    elif name in _COPIERS and len(node.args) >= 2:
        path = tracker.path_of(node.args[1])
        return (path, fa.eval(node.args[0])) if path else None
    elif isinstance(node.func, ast.Attribute):
        attr = node.func.attr
        path = tracker.path_of(node.func.value)
        if path and attr in ("write_text", "write_bytes"):
            return path, fa.eval(node.args[0]) if node.args else None
        if path and attr == "open" and _writes(_mode(node, 0)):
            return path, None
        if attr == "download_file" and len(node.args) >= 3:
            path = tracker.path_of(node.args[2])
            return (path, fa.eval(node.args[1])) if path else None
    return None


def _mode(node: ast.Call, index: int) -> str:
    for kw in node.keywords:
        if kw.arg == "mode":
            return const_str(kw.value) or ""
    return (const_str(node.args[index]) or "") if len(node.args) > index else "r"


def _writes(mode: str) -> bool:
    return any(c in mode for c in "wax+")


def _handles(fa: FunctionAnalysis, tracker: TmpTracker) -> dict[int, Taint | None]:
    """Map each open() call to the taint of data written through its file handle."""
    bound: dict[str, ast.Call] = {}
    for node in fa.nodes():
        if isinstance(node, ast.withitem) and isinstance(node.context_expr, ast.Call):
            if isinstance(node.optional_vars, ast.Name):
                bound[node.optional_vars.id] = node.context_expr
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    bound[t.id] = node.value
    written: dict[int, Taint | None] = {}
    for node in fa.nodes():
        if not isinstance(node, ast.Call):
            continue
        opener, data = _handle_write(fa, node, bound)
        if opener is not None:
            written[id(opener)] = _join(written.get(id(opener)), data)
    return written


def _handle_write(
    fa: FunctionAnalysis, node: ast.Call, bound: dict[str, ast.Call]
) -> tuple[ast.Call | None, Taint | None]:
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in ("write", "writelines") and node.args:
        target = func.value
        opener = bound.get(target.id) if isinstance(target, ast.Name) else target
        return (opener if isinstance(opener, ast.Call) else None), fa.eval(node.args[0])
    if (fa.mod.canonical(func) or "") in _DUMPERS and len(node.args) >= 2:
        target = node.args[1]
        opener = bound.get(target.id) if isinstance(target, ast.Name) else target
        return (opener if isinstance(opener, ast.Call) else None), fa.eval(node.args[0])
    return None, None


def _join(a: Taint | None, b: Taint | None) -> Taint | None:
    return b if a is None else a.join(b)


def _extend(base: TmpPath | None, part: ast.AST) -> TmpPath | None:
    if base is None:
        return None
    text = const_str(part)
    if text is not None:
        return TmpPath(
            base.fixed, f"{base.text.rstrip('/')}/{text.lstrip('/')}", base.roots, base.auto_clean
        )
    return TmpPath(False, f"{base.text.rstrip('/')}/{{...}}", base.roots, base.auto_clean)


def _report(
    fa: FunctionAnalysis, node: ast.Call, path: TmpPath, data: Taint | None, out: Collector
) -> None:
    for rule, message in tmp_write_messages(path.text, path.fixed, data):
        emit_at(out, fa.mod, rule, node, message)
