"""Python sinks: where request data reaches state that outlives the invocation (KW101,
KW102, KW104) plus the purely module-level rules (KW105 mutable defaults, KW106 init-time
uniqueness), which need no taint.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from keepwarm.audit.static.findings import Collector
from keepwarm.audit.static.pyscope import PyModule, dotted, own_nodes, root_name
from keepwarm.audit.static.pytaint import MUTATORS, FunctionAnalysis, const_str, unpack
from keepwarm.audit.static.taint import Taint, is_secret_name, unbounded

_KIND_TEXT = {"global": "module global", "closure": "closure variable", "class": "class attribute"}
_KEYED = frozenset({"setdefault", "__setitem__", "put", "set"})
_INIT_TIME = frozenset(
    {
        "uuid.uuid1",
        "uuid.uuid4",
        "time.time",
        "time.time_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        "os.urandom",
        "os.getrandom",
    }
)
_INIT_PREFIXES = ("random.", "secrets.", "numpy.random.", "np.random.")
_MUTABLE_CTORS = frozenset(
    {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}
)


@dataclass
class Store:
    """One write into shared state found in a function body."""

    node: ast.AST
    kind: str
    target: str
    value: Taint | None
    key: Taint | None = None
    container: str | None = None


def emit_at(out: Collector, mod: PyModule, rule: str, node: ast.AST, message: str) -> None:
    line = getattr(node, "lineno", 1)
    out.emit(rule, mod.display, line, _column(mod, line, getattr(node, "col_offset", 0)), message)


def _column(mod: PyModule, line: int, offset: int) -> int:
    """1-based column in characters, as SARIF's ``unicodeCodePoints`` says: ``ast`` counts
    UTF-8 bytes, so each non-ASCII character before the node would shift it right."""
    text = mod.lines[line - 1] if 0 < line <= len(mod.lines) else ""
    if text.isascii():
        return offset + 1
    return len(text.encode()[:offset].decode(errors="ignore")) + 1


def check_stores(fa: FunctionAnalysis, out: Collector) -> None:
    """Report every store of request-derived data into module, class or closure state."""
    for store in _stores(fa):
        _report(fa, store, out)


def _stores(fa: FunctionAnalysis) -> list[Store]:
    found: list[Store] = []
    for node in fa.nodes():
        if isinstance(node, ast.Assign):
            pairs = [p for t in node.targets for p in unpack(t, node.value)]
            found.extend(s for t, v in pairs if (s := _target_store(fa, t, fa.eval(v))))
        elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
            if s := _target_store(fa, node.target, fa.eval(node.value)):
                found.append(s)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (s := _method_store(fa, node, node.func))
        ):
            found.append(s)
    return found


def _owner(fa: FunctionAnalysis, base: ast.expr) -> str | None:
    """Who owns the object written through ``base``: global, class, closure, or None (local)."""
    if isinstance(base, ast.Call) and dotted(base.func) == "type":
        return "class"
    if isinstance(base, ast.Attribute) and base.attr == "__class__":
        return "class"
    name = root_name(base)
    if name is None:
        return None
    params = [a.arg for a in fa.fn.args.args]
    is_method = fa.mod.enclosing_class(fa.fn) is not None and params and params[0] == name
    if is_method and isinstance(base, ast.Name):
        if any(dotted(d) == "classmethod" for d in fa.fn.decorator_list):
            return "class"
        return "global" if fa.shared_self else None
    scope = fa.scope_of(name)
    if scope == "global" and name in fa.mod.classes:
        return "class"
    return scope if scope in ("global", "closure") else None


def _target_store(fa: FunctionAnalysis, target: ast.AST, value: Taint | None) -> Store | None:
    if isinstance(target, ast.Name):
        scope = fa.scope_of(target.id)
        declared = target.id in fa.globals_decl or target.id in fa.nonlocal_decl
        if declared and scope in ("global", "closure"):
            return Store(target, scope, target.id, value)
        return None
    if isinstance(target, ast.Attribute):
        owner = _owner(fa, target.value)
        return Store(target, owner, dotted(target) or target.attr, value) if owner else None
    if isinstance(target, ast.Subscript):
        owner = _owner(fa, target.value)
        root = root_name(target.value)
        if owner and root:
            key = fa.eval(target.slice)
            shown = dotted(target.value) or root
            return Store(target, owner, shown, value, key, container=root)
    return None


def _method_store(fa: FunctionAnalysis, call: ast.Call, func: ast.Attribute) -> Store | None:
    if func.attr not in MUTATORS:
        return None
    owner = _owner(fa, func.value)
    root = root_name(func.value)
    if not owner or not root or not _is_state(fa.mod, owner, func.value):
        return None
    args = [fa.eval(a) for a in call.args] + [fa.eval(k.value) for k in call.keywords]
    key: Taint | None = None
    if func.attr in _KEYED and args:
        key, args = args[0], args[1:]
    value = None
    for a in args:
        value = a if value is None else value.join(a)
    return Store(call, owner, dotted(func.value) or root, value, key, container=root)


def _report(fa: FunctionAnalysis, s: Store, out: Collector) -> None:
    mod = fa.mod
    tainted = s.value or s.key
    if tainted is None:
        return
    where = f"{_KIND_TEXT[s.kind]} '{s.target}'"
    secret = (s.value and s.value.secret) or (s.key and s.key.secret)
    if secret or is_secret_name(s.target):
        emit_at(
            out,
            mod,
            "KW104",
            s.node,
            f"secret request data ({tainted.source}) kept in {where} beyond the invocation",
        )
    if s.container is None:
        if s.value is not None:
            emit_at(
                out,
                mod,
                "KW101",
                s.node,
                f"request data ({s.value.source}) stored in {where}; it survives into the "
                "next invocation",
            )
        return
    if s.value is not None and s.value.direct and not _keyed_cache(mod, s):
        emit_at(
            out,
            mod,
            "KW101",
            s.node,
            f"request data ({s.value.source}) stored in {where}; it survives into the next "
            "invocation",
        )
    if s.kind == "global" and s.container in mod.containers and s.container not in mod.evicted:
        emit_at(out, mod, "KW102", s.node, unbounded(s.container, mod.containers[s.container]))


def _is_state(mod: PyModule, owner: str, receiver: ast.expr) -> bool:
    """Method calls only count as stores on known containers/caches, not on API clients:
    ``LOG.append``, ``Klass.seen.append`` and ``STATE.log.append`` when those were set up
    as plain containers, but not ``redis.set`` or ``Svc.client.put``."""
    root = root_name(receiver)
    if root in mod.containers or root in mod.caches or dotted(receiver) in mod.attr_containers:
        return True
    if owner == "closure":
        return True
    # ``cls.add(...)`` on the class itself; its attributes count only if known containers
    return owner == "class" and not isinstance(receiver, ast.Attribute | ast.Subscript)


def _keyed_cache(mod: PyModule, s: Store) -> bool:
    """A bounded cache keyed by request data is a cache, not a leak: values are only handed
    back to a request presenting the same key. Unkeyed or unbounded storage is a leak."""
    if s.container in mod.caches:
        return True
    return s.key is not None and s.container in mod.evicted


def check_module(mod: PyModule, out: Collector) -> None:
    """Rules that look only at a module's own code: KW105 and KW106."""
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            _mutable_defaults(mod, node, out)
    scopes: list[ast.AST] = [mod.tree]
    scopes += [
        n
        for n in ast.walk(mod.tree)
        if isinstance(n, ast.ClassDef) and mod.enclosing_function(n) is None
    ]
    for scope in scopes:
        for node in own_nodes(scope):
            if isinstance(node, ast.Call):
                _init_time_call(mod, node, out)


def _init_time_call(mod: PyModule, node: ast.Call, out: Collector) -> None:
    name = mod.canonical(node.func)
    if name is None or name.endswith("SystemRandom"):
        return
    if name in _INIT_TIME or name.startswith(_INIT_PREFIXES):
        emit_at(
            out,
            mod,
            "KW106",
            node,
            f"{name}() is evaluated once at init, so every invocation (and every restored "
            "snapshot) shares its value",
        )


def _mutable_defaults(
    mod: PyModule, fn: ast.FunctionDef | ast.AsyncFunctionDef, out: Collector
) -> None:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    pairs = list(zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True))
    pairs += [(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None]
    for param, default in pairs:
        if _is_mutable(default) and _mutated(fn, param.arg):
            emit_at(
                out,
                mod,
                "KW105",
                default,
                f"mutable default of '{param.arg}' in {fn.name}() is mutated; it is created "
                "once and shared by every invocation",
            )


def _is_mutable(node: ast.expr) -> bool:
    if isinstance(node, ast.Dict | ast.List | ast.Set):
        return True
    name = dotted(node.func) if isinstance(node, ast.Call) else None
    return name is not None and name.rsplit(".", 1)[-1] in _MUTABLE_CTORS


def _mutated(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    mutated = False
    for node in own_nodes(fn):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            parent_is_aug = False
            for sub in own_nodes(fn):
                if isinstance(sub, ast.AugAssign) and sub.target is node:
                    parent_is_aug = True
            if not parent_is_aug:
                return False
            mutated = True
        elif isinstance(node, ast.Subscript | ast.Attribute) and isinstance(node.ctx, ast.Store):
            mutated = mutated or root_name(node) == name
        elif isinstance(node, ast.Delete):
            mutated = mutated or any(root_name(t) == name for t in node.targets)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            mutating = node.func.attr in MUTATORS | {"pop", "clear", "remove"}
            mutated = mutated or (mutating and root_name(node.func.value) == name)
    return mutated


__all__ = ["Store", "check_module", "check_stores", "const_str", "emit_at"]
