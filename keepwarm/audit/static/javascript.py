"""Project-level JavaScript analysis (tree-sitter): load modules, follow local ``require``
and ``import``, start at exported handlers and follow calls into local helpers with the
caller's taint.

JavaScript has no equivalent of KW105: default parameter values are evaluated on every call.
"""

from __future__ import annotations

from pathlib import Path

from keepwarm.audit.static.engine_base import Engine
from keepwarm.audit.static.jsscope import (
    FUNCTION_TYPES,
    JsModule,
    Node,
    index_js,
    params_of,
    parse,
    text,
    walk,
)
from keepwarm.audit.static.jssinks import check_init_time, check_stores, check_tmp
from keepwarm.audit.static.jstaint import JsFunction, seed_params
from keepwarm.audit.static.suppress import add_suppression, parse_marker
from keepwarm.audit.static.taint import CallResult, Taint

JS_SUFFIXES = frozenset({".js", ".mjs", ".cjs"})
_EVENT = frozenset({"event", "evt", "_event"})
_CONTEXT = frozenset({"context", "ctx", "_context"})
_MAX_DEPTH = 8
_TOO_DEEP = "cannot analyse this function: expressions nested too deeply"
_MemoKey = tuple[str, int, tuple[tuple[bool, bool] | None, ...]]


class JavaScriptEngine(Engine[Path, JsModule, _MemoKey]):
    """Analyses the JavaScript files under one code directory."""

    def run(self, files: list[Path]) -> None:
        for path in files:
            mod = self.load(path.resolve())
            if mod is None:
                continue
            for fn in self._entries(mod, path.stem):
                event = Taint(direct=True, secret=False, source="event")
                context = Taint(direct=True, secret=False, source="context")
                self.analyze(mod, fn, [event, context], depth=0)

    def load(self, path: Path) -> JsModule | None:
        if path in self.modules:
            return self.modules[path]
        self.modules[path] = None
        source = path.read_bytes()
        tree = parse(source)
        display = self.display.get(path, str(path))
        if tree.root_node.has_error:
            bad = next(
                (n for n in walk(tree.root_node) if n.is_error or n.is_missing), tree.root_node
            )
            self.out.emit(
                "KW001",
                display,
                bad.start_point.row + 1,
                1,
                "cannot parse: JavaScript syntax error",
            )
            return None
        mod = JsModule(path, display, source, tree)
        index_js(mod)
        self.modules[path] = mod
        check_init_time(mod, self.out)
        for spec in [*mod.requires.values(), *(s for s, _ in mod.imported.values())]:
            target = self.resolve_module(mod, spec)
            if target is not None:
                self.load(target)
        return mod

    def resolve_module(self, mod: JsModule, spec: str) -> Path | None:
        """Local module file for a ``./x``-style specifier, if inside the code directory."""
        if not spec.startswith("."):
            return None
        base = (mod.path.parent / spec).resolve()
        candidates = [base, *(base.with_name(base.name + s) for s in (".js", ".mjs", ".cjs"))]
        candidates += [base / "index.js", base / "index.mjs"]
        for cand in candidates:
            if cand.is_file() and cand.is_relative_to(self.root):
                return cand
        return None

    def _entries(self, mod: JsModule, stem: str) -> list[Node]:
        wanted = {"handler"} | self.templates.get(stem, set())
        entries = {fn.id: fn for name, fn in mod.exports.items() if name in wanted}
        for node in walk(mod.root):
            if node.type in FUNCTION_TYPES:
                params = params_of(node)
                if (
                    len(params) >= 2
                    and params[0][:1]
                    and params[0][0] in _EVENT
                    and params[1][:1]
                    and params[1][0] in _CONTEXT
                ):
                    entries.setdefault(node.id, node)
        return list(entries.values())

    def analyze(
        self, mod: JsModule, fn: Node, args: list[Taint | None], depth: int
    ) -> Taint | None:
        sig = tuple(None if a is None else (a.direct, a.secret) for a in args)
        key: _MemoKey = (str(mod.path), fn.start_byte, sig)
        if key in self.memo:
            return self.memo[key]
        if key in self.active or depth > _MAX_DEPTH:
            return None
        self.active.add(key)
        fa = JsFunction(mod, fn, _Resolver(self, depth))
        seed_params(fa, args)
        try:
            fa.run()
            check_stores(fa, self.out)
            check_tmp(fa, self.out)
        except RecursionError:  # as in the Python engine: one KW001, not a lost report
            fa.returns = None
            row = fn.start_point.row + 1
            self.out.emit("KW001", mod.display, row, 1, _TOO_DEEP)
        finally:
            self.active.discard(key)
        self.memo[key] = fa.returns
        return fa.returns

    def target(self, fa: JsFunction, call: Node) -> tuple[JsModule, Node] | None:
        """Resolve a call to a module-level function here or an export of a local module."""
        func = call.child_by_field_name("function")
        mod = fa.mod
        if func is None:
            return None
        if func.type == "identifier":
            name = text(func)
            if fa.scope_of(name) != "local" and name in mod.functions:
                return mod, mod.functions[name]
            if name in mod.imported:
                spec, exported = mod.imported[name]
                return self._export(mod, spec, exported)
        elif func.type == "member_expression":
            obj = func.child_by_field_name("object")
            if obj is not None and obj.type == "identifier" and text(obj) in mod.requires:
                prop = text(func.child_by_field_name("property"))
                return self._export(mod, mod.requires[text(obj)], prop)
        return None

    def _export(self, mod: JsModule, spec: str, name: str) -> tuple[JsModule, Node] | None:
        path = self.resolve_module(mod, spec)
        other = self.load(path) if path is not None else None
        if other is None:
            return None
        fn = other.exports.get(name) or other.functions.get(name)
        return (other, fn) if fn is not None else None


class _Resolver:
    def __init__(self, engine: JavaScriptEngine, depth: int) -> None:
        self.engine = engine
        self.depth = depth

    def resolve(self, fa: JsFunction, call: Node, args: list[Taint | None]) -> CallResult | None:
        target = self.engine.target(fa, call)
        if target is None:
            return None
        return CallResult(self.engine.analyze(target[0], target[1], args, self.depth + 1))


def js_suppressions(source: str) -> dict[int, set[str]]:
    """Line -> suppressed rule ids, from ``// keepwarm: ignore[...]`` comments."""
    out: dict[int, set[str]] = {}
    tree = parse(source.encode("utf-8"))
    for node in walk(tree.root_node):
        if node.type != "comment":
            continue
        ids = parse_marker(text(node))
        if ids is None:
            continue
        line = node.start_point.row
        prev = node.prev_sibling
        inline = prev is not None and prev.end_point.row == line
        add_suppression(out, line + 1, ids, inline)
    return out
