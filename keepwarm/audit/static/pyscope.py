"""Module- and function-level facts the Python rules need: what is global, what is a
container, what is bounded, which functions are handlers and what each import points at.

Everything here is computed once per module by walking the ``ast``; the taint analysis then
asks questions ("is this name a module-level plain container without eviction?") instead of
re-walking trees.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

FuncNode = ast.FunctionDef | ast.AsyncFunctionDef
EVENT_NAMES = frozenset({"event", "evt", "_event", "lambda_event"})
CONTEXT_NAMES = frozenset({"context", "ctx", "_context", "lambda_context", "_ctx"})
HANDLER_NAMES = frozenset({"handler", "lambda_handler"})
_PLAIN = frozenset(
    {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}
)
_BOUNDED_CTORS = frozenset(
    {"LRUCache", "TTLCache", "LFUCache", "FIFOCache", "RRCache", "TLRUCache"}
)
EVICTORS = frozenset({"pop", "popitem", "clear", "remove", "popleft", "discard", "expire"})


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None.

    A loop, not recursion: generated code can chain thousands of attributes, and this runs
    on every call in a module before any analysis could catch a ``RecursionError``.
    """
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(attrs)])


def own_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Walk a function or module body without entering nested functions, lambdas or classes.

    The nested definition node itself is yielded (its decorators and defaults run in the
    enclosing scope) but not its body.
    """
    stack: list[ast.AST] = list(ast.iter_child_nodes(root))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stack.extend(node.decorator_list)
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
        elif isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
        elif isinstance(node, ast.ClassDef):
            stack.extend(node.decorator_list)
            stack.extend(node.bases)
        else:
            stack.extend(ast.iter_child_nodes(node))


def bound_names(fn: FuncNode | ast.Module) -> set[str]:
    """Names a scope binds itself (assignments, loop/with/except targets, imports, defs)."""
    names: set[str] = set()
    if not isinstance(fn, ast.Module):
        a = fn.args
        names.update(x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs])
        names.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
    for node in own_nodes(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def declared(fn: FuncNode, kind: type[ast.Global] | type[ast.Nonlocal]) -> set[str]:
    return {n for node in own_nodes(fn) if isinstance(node, kind) for n in node.names}


def _ctor_name(value: ast.expr) -> str | None:
    if isinstance(value, ast.Call):
        name = dotted(value.func)
        return name.rsplit(".", 1)[-1] if name else None
    return None


@dataclass
class PyModule:
    """One parsed Python file and its module-level facts."""

    key: str
    path: Path
    display: str
    tree: ast.Module
    is_pkg: bool = False
    lines: list[str] = field(default_factory=list)  # the decoded source, for columns
    globals: set[str] = field(default_factory=set)
    containers: dict[str, int] = field(default_factory=dict)
    attr_containers: dict[str, int] = field(default_factory=dict)  # "Klass.seen", "STATE.log"
    caches: set[str] = field(default_factory=set)
    evicted: set[str] = field(default_factory=set)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    functions: dict[str, FuncNode] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    tmp_consts: dict[str, str] = field(default_factory=dict)
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    def enclosing_function(self, node: ast.AST) -> FuncNode | None:
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, ast.FunctionDef | ast.AsyncFunctionDef):
            cur = self.parents.get(cur)
        return cur

    def enclosing_class(self, fn: FuncNode) -> ast.ClassDef | None:
        parent = self.parents.get(fn)
        return parent if isinstance(parent, ast.ClassDef) else None

    def canonical(self, node: ast.AST) -> str | None:
        """Dotted name with import aliases expanded (``rnd.random`` -> ``random.random``)."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full


def index_module(mod: PyModule) -> None:
    """Fill in the module-level facts of ``mod`` from its tree."""
    for parent in ast.walk(mod.tree):
        for child in ast.iter_child_nodes(parent):
            mod.parents[child] = parent
    mod.globals = bound_names(mod.tree)
    for stmt in mod.tree.body:
        _index_toplevel(mod, stmt)
    for node in ast.walk(mod.tree):
        _index_eviction(mod, node)


def _index_toplevel(mod: PyModule, node: ast.stmt) -> None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        mod.functions[node.name] = node
    elif isinstance(node, ast.ClassDef):
        mod.classes[node.name] = node
        _add_attr_containers(mod, node.name, _class_containers(node))
    elif isinstance(node, ast.Import):
        for a in node.names:
            mod.aliases[a.asname or a.name.split(".")[0]] = (
                a.name if a.asname else a.name.split(".")[0]
            )
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for a in node.names:
            mod.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            if isinstance(t, ast.Name):
                _index_global_value(mod, t.id, node.value)
            elif (name := dotted(t)) and _is_plain_container(node.value):
                mod.attr_containers[name] = node.value.lineno  # STATE.log = []
    elif isinstance(node, ast.If | ast.Try | ast.With):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                _index_toplevel(mod, child)


def _index_global_value(mod: PyModule, name: str, value: ast.expr) -> None:
    ctor = _ctor_name(value)
    if _is_plain_container(value):
        mod.containers[name] = value.lineno
    elif ctor in _PLAIN or ctor in _BOUNDED_CTORS or _is_cache_factory(mod, value):
        mod.caches.add(name)  # of _PLAIN, only deque(maxlen=N) gets here: it is bounded
    if ctor and ctor in mod.classes:
        mod.instances[name] = ctor
        _add_attr_containers(mod, name, _instance_containers(mod.classes[ctor]))
    if isinstance(value, ast.Call):
        kwargs = [k for k in value.keywords if k.arg and _is_plain_container(k.value)]
        _add_attr_containers(mod, name, {k.arg or "": k.value.lineno for k in kwargs})
    if isinstance(value, ast.Constant) and str(value.value).startswith("/tmp"):
        mod.tmp_consts[name] = str(value.value)


def _is_plain_container(value: ast.expr) -> bool:
    """A fresh dict/list/set/... that nothing bounds (``deque(maxlen=N)`` evicts by itself)."""
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return True
    ctor = _ctor_name(value)
    if ctor not in _PLAIN or not isinstance(value, ast.Call):
        return False
    return ctor != "deque" or not any(k.arg == "maxlen" for k in value.keywords)


def _add_attr_containers(mod: PyModule, owner: str, attrs: dict[str, int]) -> None:
    mod.attr_containers.update({f"{owner}.{attr}": line for attr, line in attrs.items()})


def _assignments(nodes: Iterable[ast.AST]) -> Iterator[tuple[ast.expr, ast.expr]]:
    for node in nodes:
        if isinstance(node, ast.Assign):
            yield from ((t, node.value) for t in node.targets)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            yield node.target, node.value


def _class_containers(cls: ast.ClassDef) -> dict[str, int]:
    """Class attributes that start out as plain containers: shared by every instance and
    alive as long as the module, so ``Klass.seen.append(...)`` keeps what it is given."""
    return {
        t.id: v.lineno
        for t, v in _assignments(cls.body)
        if isinstance(t, ast.Name) and _is_plain_container(v)
    }


def _instance_containers(cls: ast.ClassDef) -> dict[str, int]:
    """Attributes that hold plain containers on every instance of ``cls``: class attributes,
    dataclass ``field(default_factory=list)`` fields and ``self.x = []`` in its methods.
    Only asked about module-level instances, whose attributes live as long as the module."""
    found = _class_containers(cls)
    for t, v in _assignments(cls.body):
        if isinstance(t, ast.Name) and _is_factory_field(v):
            found[t.id] = v.lineno
    for method in cls.body:
        if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) and method.args.args:
            found.update(_self_containers(method, method.args.args[0].arg))
    return found


def _self_containers(method: FuncNode, me: str) -> dict[str, int]:
    return {
        t.attr: v.lineno
        for t, v in _assignments(own_nodes(method))
        if isinstance(t, ast.Attribute) and dotted(t.value) == me and _is_plain_container(v)
    }


def _is_factory_field(value: ast.expr) -> bool:
    if _ctor_name(value) != "field" or not isinstance(value, ast.Call):
        return False
    factory = [k.value for k in value.keywords if k.arg == "default_factory"]
    return bool(factory) and (dotted(factory[0]) or "").rsplit(".", 1)[-1] in _PLAIN


def _is_cache_factory(mod: PyModule, value: ast.expr) -> bool:
    """``orc.Cache(...)``, ``keepwarm.orc.Cache(...)`` or any ``cachetools.*`` constructor."""
    name = mod.canonical(value.func) if isinstance(value, ast.Call) else None
    return name is not None and name.startswith(("keepwarm.orc", "orc.", "cachetools."))


def _index_eviction(mod: PyModule, node: ast.AST) -> None:
    """Record names that show evidence of being bounded: deletion, pop/clear, size checks."""
    if isinstance(node, ast.Delete):
        for t in node.targets:
            root = root_name(t)
            if root:
                mod.evicted.add(root)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in EVICTORS and (root := root_name(node.func.value)):
            mod.evicted.add(root)
    elif isinstance(node, ast.Compare):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and dotted(sub.func) == "len" and sub.args:
                root = root_name(sub.args[0])
                if root:
                    mod.evicted.add(root)
    elif isinstance(node, ast.Global):
        fn = mod.enclosing_function(node)
        if fn is not None:
            for sub in own_nodes(fn):
                if not (isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store)):
                    continue
                if sub.id in node.names and sub.id in mod.containers:
                    mod.evicted.add(sub.id)


def root_name(node: ast.AST) -> str | None:
    """The variable at the bottom of ``a.b[c].setdefault(k, [])``-style chains."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            return None


def positional_params(fn: FuncNode, mod: PyModule) -> list[str]:
    """Positional parameter names, without ``self``/``cls`` for methods."""
    names = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
    if mod.enclosing_class(fn) is not None and names and not _is_static(fn):
        names = names[1:]
    return names


def _is_static(fn: FuncNode) -> bool:
    return any(dotted(d) == "staticmethod" for d in fn.decorator_list)


def find_entries(mod: PyModule, template_funcs: set[str]) -> list[FuncNode]:
    """Handler functions: (event, context)-shaped, conventionally named, or named by a template."""
    entries: list[FuncNode] = []
    for node in ast.walk(mod.tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = positional_params(node, mod)
        shaped = len(params) >= 2 and params[0] in EVENT_NAMES and params[1] in CONTEXT_NAMES
        named = node.name in HANDLER_NAMES and len(params) == 2 and node in mod.tree.body
        templated = node.name in template_funcs and node in mod.tree.body and params
        if shaped or named or templated:
            entries.append(node)
    return entries
