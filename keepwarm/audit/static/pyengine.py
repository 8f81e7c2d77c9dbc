"""Project-level Python analysis: load modules, follow local imports, start at handlers and
follow calls into helpers (same module or imported from the code directory) with the
caller's taint, memoised per (function, argument taints).
"""

from __future__ import annotations

import ast
from pathlib import Path

from keepwarm.audit.static.engine_base import Engine
from keepwarm.audit.static.findings import Collector
from keepwarm.audit.static.pyscope import (
    EVENT_NAMES,
    FuncNode,
    PyModule,
    dotted,
    find_entries,
    index_module,
    own_nodes,
    positional_params,
)
from keepwarm.audit.static.pysinks import check_module, check_stores, emit_at
from keepwarm.audit.static.pysource import read_python_source
from keepwarm.audit.static.pytaint import FunctionAnalysis, param_taint
from keepwarm.audit.static.pytmp import check_tmp
from keepwarm.audit.static.taint import CallResult, Taint, join_all

_MAX_DEPTH = 8
_DEEP_NESTING = 50  # AST levels: far beyond hand-written code, a fraction of the stack
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_MemoKey = tuple[str, int, int, frozenset[tuple[str, bool, bool]], bool]


class PythonEngine(Engine[str, PyModule, _MemoKey]):
    """Analyses the Python files under one code directory."""

    def key_for(self, path: Path) -> str:
        rel = path.resolve().relative_to(self.root).with_suffix("")
        parts = list(rel.parts)
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    def run(self, files: list[Path]) -> None:
        for path in files:
            mod = self.load(self.key_for(path), path)
            if mod is None:
                continue
            for fn in find_entries(mod, self.templates.get(path.stem, set())):
                params = positional_params(fn, mod)[:2]
                taints = {p: param_taint(p, p) for p in params}
                if params and params[0] not in EVENT_NAMES:
                    taints[params[0]] = param_taint(params[0], "event")
                self.analyze(mod, fn, taints, shared_self=False, outer={}, depth=0)

    def load(self, key: str, path: Path | None = None) -> PyModule | None:
        if key in self.modules:
            return self.modules[key]
        path = path or self._find(key)
        self.modules[key] = None
        if path is None:
            return None
        display = self.display.get(path.resolve(), str(path))
        try:
            source = read_python_source(path)
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            line = getattr(exc, "lineno", 1) or 1
            self.out.emit("KW001", display, line, 1, f"cannot parse: {exc}")
            return None
        except (RecursionError, MemoryError):  # how CPython's parser refuses very deep nesting
            self.out.emit("KW001", display, 1, 1, "cannot parse: expressions nested too deeply")
            return None
        is_pkg = path.name == "__init__.py"
        mod = PyModule(key, path, display, tree, is_pkg=is_pkg, lines=source.splitlines())
        extra = _absolutise_imports(mod)
        index_module(mod)
        mod.aliases.update(extra)
        self.modules[key] = mod
        check_module(mod, self.out)
        for target in set(mod.aliases.values()):
            self._load_prefix(target)
        return mod

    def _find(self, key: str) -> Path | None:
        base = self.root.joinpath(*key.split("."))
        for cand in (base.with_suffix(".py"), base / "__init__.py"):
            if key and cand.is_file():
                return cand
        return None

    def _load_prefix(self, dotted_name: str) -> tuple[PyModule, str] | None:
        """Longest local-module prefix of ``dotted_name`` and the remaining attribute path."""
        parts = dotted_name.split(".")
        for cut in range(len(parts), 0, -1):
            mod = self.load(".".join(parts[:cut]))
            if mod is not None:
                return mod, ".".join(parts[cut:])
        return None

    def analyze(
        self,
        mod: PyModule,
        fn: FuncNode,
        params: dict[str, Taint],
        *,
        shared_self: bool,
        outer: dict[str, Taint],
        depth: int,
    ) -> Taint | None:
        sig = frozenset((k, v.direct, v.secret) for k, v in params.items())
        key: _MemoKey = (mod.key, fn.lineno, fn.col_offset, sig, shared_self)
        if key in self.memo:
            return self.memo[key]
        if key in self.active or depth > _MAX_DEPTH:
            return None
        self.active.add(key)
        fa = FunctionAnalysis(
            mod,
            fn,
            _Resolver(self, depth),
            env=dict(params),
            outer_env=outer,
            shared_self=shared_self,
        )
        try:
            fa.run()
            check_stores(fa, self.out)
            check_tmp(fa, self.out)
        except RecursionError:
            _too_deep(mod, fn, depth, self.out)
            fa.returns = None
        finally:
            self.active.discard(key)
        self.memo[key] = fa.returns
        return fa.returns

    def target(
        self, fa: FunctionAnalysis, call: ast.Call
    ) -> tuple[PyModule, FuncNode, bool, bool] | None:
        """Resolve a call to (module, function, is_bound_method, self_is_module_level)."""
        func = call.func
        mod = fa.mod
        if isinstance(func, ast.Name):
            nested = _nested_def(fa.fn, func.id)
            if nested is not None:
                return mod, nested, False, False
            if func.id in mod.functions:
                return mod, mod.functions[func.id], False, False
            return self._imported(mod, func)
        if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
            return self._imported(mod, func)
        base = func.value.id
        cls = mod.enclosing_class(fa.fn)
        params = [a.arg for a in fa.fn.args.args]
        if cls is not None and params and base == params[0]:
            method = _method(cls, func.attr)
            return (mod, method, True, fa.shared_self) if method else None
        if base in mod.classes and (method := _method(mod.classes[base], func.attr)):
            bound = any(dotted(d) == "classmethod" for d in method.decorator_list)
            return mod, method, bound, False
        if base in mod.instances:
            method = _method(mod.classes[mod.instances[base]], func.attr)
            return (mod, method, True, True) if method else None
        return self._imported(mod, func)

    def _imported(
        self, mod: PyModule, func: ast.expr
    ) -> tuple[PyModule, FuncNode, bool, bool] | None:
        name = mod.canonical(func)
        found = self._load_prefix(name) if name else None
        if found is None:
            return None
        other, attr = found
        fn = other.functions.get(attr)
        return (other, fn, False, False) if fn else None


class _Resolver:
    """The ``CallResolver`` handed to each function analysis (carries the call depth)."""

    def __init__(self, engine: PythonEngine, depth: int) -> None:
        self.engine = engine
        self.depth = depth

    def resolve(
        self,
        fa: FunctionAnalysis,
        call: ast.Call,
        args: list[Taint | None],
        kwargs: dict[str, Taint | None],
    ) -> CallResult | None:
        target = self.engine.target(fa, call)
        if target is None:
            return None
        mod, fn, bound, shared = target
        names = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]][int(bound) :]
        params = {n: t for n, t in zip(names, args, strict=False) if t is not None}
        params.update({k: t for k, t in kwargs.items() if t is not None and k != "**"})
        _check_memo(mod, fn, [*args, *kwargs.values()], self.engine.out)
        outer = {**fa.outer_env, **fa.env} if mod.enclosing_function(fn) is fa.fn else {}
        result = self.engine.analyze(
            mod, fn, params, shared_self=shared, outer=outer, depth=self.depth + 1
        )
        return CallResult(result)


def _too_deep(mod: PyModule, fn: FuncNode, depth: int, out: Collector) -> None:
    """Give up on ``fn`` with a KW001 instead of losing the whole report to a traceback.

    The analysis recurses along expression nesting, so code nested deeply enough (long
    method or attribute chains; operator chains are walked iteratively) exhausts the stack.
    A helper that is not deep itself only ran out of the stack its callers used: let the
    caller that is deep (or, at worst, the handler) take the blame.
    """
    node, nesting = _deepest(fn)
    if depth and nesting < _DEEP_NESTING:
        raise RecursionError(f"stack used up by the callers of {fn.name}()")
    emit_at(out, mod, "KW001", node, f"cannot analyse {fn.name}(): expressions nested too deeply")


def _deepest(fn: FuncNode) -> tuple[ast.AST, int]:
    """The most deeply nested node of ``fn``'s own code, and its depth."""
    best: tuple[ast.AST, int] = (fn, 0)
    stack: list[tuple[ast.AST, int]] = [(fn, 0)]
    while stack:
        node, level = stack.pop()
        if level > best[1] and hasattr(node, "lineno"):
            best = (node, level)
        if node is fn or not isinstance(node, _SCOPES):
            stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return best


def _check_memo(mod: PyModule, fn: FuncNode, args: list[Taint | None], out: Collector) -> None:
    """functools.cache / lru_cache(maxsize=None) keyed by request data grows without bound."""
    if join_all(args) is None:
        return
    for deco in fn.decorator_list:
        name = mod.canonical(deco.func if isinstance(deco, ast.Call) else deco) or ""
        unbounded = name == "functools.cache" or (
            name == "functools.lru_cache"
            and isinstance(deco, ast.Call)
            and any(
                k.arg == "maxsize" and isinstance(k.value, ast.Constant) and k.value.value is None
                for k in deco.keywords
            )
        )
        if unbounded:
            emit_at(
                out,
                mod,
                "KW102",
                deco,
                f"{fn.name}() memoises request-derived arguments in an unbounded cache",
            )


def _nested_def(fn: FuncNode, name: str) -> FuncNode | None:
    for node in own_nodes(fn):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _method(cls: ast.ClassDef, name: str) -> FuncNode | None:
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _absolutise_imports(mod: PyModule) -> dict[str, str]:
    """Rewrite relative imports into absolute form so aliases resolve by module key.

    ``from . import x`` at the top of the code directory has no module to rewrite to, so
    those come back as extra aliases instead.
    """
    extra: dict[str, str] = {}
    package = mod.key.split(".") if mod.is_pkg else mod.key.split(".")[:-1]
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            parts = [p for p in [*base, *(node.module or "").split(".")] if p]
            node.module = ".".join(parts)
            node.level = 0
            if not node.module:
                extra.update({a.asname or a.name: a.name for a in node.names})
    return extra
