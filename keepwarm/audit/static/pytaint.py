"""Flow-insensitive taint analysis of one Python function.

Per function we iterate to a fixpoint: every local variable gets the join of the taints of
everything assigned to it, anywhere in the body. Flow-insensitivity over-approximates (a
variable tainted on one branch is tainted everywhere) which suits an auditor: it misses less,
and handler bodies are short enough that the imprecision rarely shows.

Calls to functions we can resolve are delegated to a ``CallResolver`` (the project-level
engine) so helpers in the same or imported modules are analysed with the caller's taint.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from keepwarm.audit.static.pyscope import (
    FuncNode,
    PyModule,
    bound_names,
    declared,
    dotted,
    own_nodes,
)
from keepwarm.audit.static.taint import CallResult, Taint, access, join_all, mark_secret

MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "add",
        "update",
        "setdefault",
        "appendleft",
        "extendleft",
        "__setitem__",
        "put",
        "set",
        "push",
    }
)
_TRANSFORM_METHODS = frozenset(
    {
        "get",
        "copy",
        "items",
        "values",
        "keys",
        "upper",
        "lower",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "rsplit",
        "replace",
        "encode",
        "decode",
        "format",
        "title",
        "casefold",
        "join",
        "splitlines",
        "partition",
        "removeprefix",
        "removesuffix",
        "model_dump",
        "dict",
        "to_dict",
    }
)
_TRANSFORM_FUNCS = frozenset(
    {
        "str",
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "int",
        "float",
        "bytes",
        "sorted",
        "reversed",
        "json.loads",
        "json.dumps",
        "copy.copy",
        "copy.deepcopy",
        "base64.b64decode",
        "base64.b64encode",
        "urllib.parse.unquote",
        "urllib.parse.parse_qs",
        "dataclasses.asdict",
        "types.SimpleNamespace",
        "collections.OrderedDict",
        "repr",
        "format",
        "next",
        "iter",
        "zip",
        "enumerate",
        "map",
        "filter",
        "min",
        "max",
        "sum",
        "abs",
        "round",
    }
)
_SANITIZERS = frozenset(
    {
        "len",
        "bool",
        "isinstance",
        "hasattr",
        "callable",
        "type",
        "id",
        "issubclass",
        "print",
        "logging.info",
        "logging.debug",
        "logging.warning",
        "logging.error",
        "any",
        "all",
    }
)


class CallResolver(Protocol):
    """Resolves a call to analysable code; returns its result taint or ``...`` if opaque."""

    def resolve(
        self,
        fa: FunctionAnalysis,
        call: ast.Call,
        args: list[Taint | None],
        kwargs: dict[str, Taint | None],
    ) -> CallResult | None: ...


@dataclass
class FunctionAnalysis:
    """Taint state of one function analysed under given parameter taints."""

    mod: PyModule
    fn: FuncNode
    resolver: CallResolver
    env: dict[str, Taint] = field(default_factory=dict)
    outer_env: dict[str, Taint] = field(default_factory=dict)
    shared_self: bool = False
    globals_decl: set[str] = field(default_factory=set)
    nonlocal_decl: set[str] = field(default_factory=set)
    locals: set[str] = field(default_factory=set)
    enclosing_locals: set[str] = field(default_factory=set)
    returns: Taint | None = None

    def __post_init__(self) -> None:
        self.globals_decl = declared(self.fn, ast.Global)
        self.nonlocal_decl = declared(self.fn, ast.Nonlocal)
        self.locals = bound_names(self.fn) - self.globals_decl - self.nonlocal_decl
        outer = self.mod.enclosing_function(self.fn)
        while outer is not None:
            self.enclosing_locals |= bound_names(outer)
            outer = self.mod.enclosing_function(outer)

    def nodes(self) -> Iterator[ast.AST]:
        return own_nodes(self.fn)

    def scope_of(self, name: str) -> str:
        """'local', 'global', 'closure' or 'unknown' (builtins, undefined)."""
        if name in self.globals_decl:
            return "global"
        if name in self.nonlocal_decl:
            return "closure"
        if name in self.locals:
            return "local"
        if name in self.enclosing_locals:
            return "closure"
        return "global" if name in self.mod.globals else "unknown"

    def run(self) -> None:
        for _ in range(8):
            before = dict(self.env)
            for node in self.nodes():
                self._step(node)
            if before == self.env:
                break
        self.returns = join_all(
            [
                self.eval(n.value)
                for n in self.nodes()
                if isinstance(n, ast.Return | ast.Yield) and n.value is not None
            ]
        )

    def _step(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for leaf, value in unpack(target, node.value):
                    self.bind(leaf, self.eval(value))
        elif isinstance(node, ast.AugAssign | ast.AnnAssign) and node.value is not None:
            self.bind(node.target, self.eval(node.value))
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.bind(node.target, self.eval(node.iter))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self.bind(node.optional_vars, self.eval(node.context_expr))
        elif isinstance(node, ast.NamedExpr):
            self.bind(node.target, self.eval(node.value))
        elif isinstance(node, ast.Call):
            self.eval(node)
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in MUTATORS:
                self.bind(func.value, join_all([self.eval(a) for a in node.args]))

    def bind(self, target: ast.AST, t: Taint | None) -> None:
        """Propagate ``t`` into locals named by ``target`` (stores into shared state are sinks)."""
        if t is None:
            return
        if isinstance(target, ast.Name):
            if self.scope_of(target.id) == "local":
                t = mark_secret(t, target.id)
                assert t is not None
                old = self.env.get(target.id)
                self.env[target.id] = t if old is None else old.join(t)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self.bind(elt, t)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, t)
        elif isinstance(target, ast.Attribute):
            self.bind(target.value, mark_secret(t, target.attr))
        elif isinstance(target, ast.Subscript):
            self.bind(target.value, mark_secret(t, const_str(target.slice)))

    def lookup(self, name: str) -> Taint | None:
        if name in self.env:
            return self.env[name]
        if self.scope_of(name) == "closure":
            return self.outer_env.get(name)
        return None

    def eval(self, node: ast.AST | None) -> Taint | None:
        """Taint of an expression under the current environment."""
        if node is None:
            return None
        handler = _EVAL.get(type(node))
        if handler is not None:
            return handler(self, node)
        if isinstance(node, ast.Compare | ast.Lambda | ast.Constant):
            return None
        return join_all(
            [
                self.eval(c)
                for c in ast.iter_child_nodes(node)
                if isinstance(c, ast.expr | ast.keyword | ast.comprehension)
            ]
        )

    def _name(self, node: ast.AST) -> Taint | None:
        assert isinstance(node, ast.Name)
        return self.lookup(node.id)

    def _attribute(self, node: ast.AST) -> Taint | None:
        assert isinstance(node, ast.Attribute)
        return access(self.eval(node.value), node.attr, f".{node.attr}")

    def _binop(self, node: ast.AST) -> Taint | None:
        """Operands of a whole ``a + b + c ...`` chain, collected with a loop: the chain nests
        one level per operator, and generated code can be deep enough to exhaust the stack."""
        operands: list[ast.AST] = []
        stack = [node]
        while stack:
            cur = stack.pop()
            if isinstance(cur, ast.BinOp):
                stack += [cur.right, cur.left]
            else:
                operands.append(cur)
        return join_all([self.eval(o) for o in operands])

    def _subscript(self, node: ast.AST) -> Taint | None:
        assert isinstance(node, ast.Subscript)
        key = const_str(node.slice)
        return access(self.eval(node.value), key, f"[{key!r}]")

    def _dict(self, node: ast.AST) -> Taint | None:
        assert isinstance(node, ast.Dict)
        parts = [
            mark_secret(self.eval(v), const_str(k))
            for k, v in zip(node.keys, node.values, strict=True)
        ]
        return join_all(parts + [self.eval(k) for k in node.keys])

    def _comprehension(self, node: ast.AST) -> Taint | None:
        assert isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp)
        saved = dict(self.env)
        for gen in node.generators:
            t = self.eval(gen.iter)
            if t is not None:
                for sub in ast.walk(gen.target):
                    if isinstance(sub, ast.Name):
                        self.env[sub.id] = t
        elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        out = join_all([self.eval(e) for e in elts])
        self.env = saved
        return out

    def _call(self, node: ast.AST) -> Taint | None:
        assert isinstance(node, ast.Call)
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg or "**": self.eval(k.value) for k in node.keywords}
        resolved = self.resolver.resolve(self, node, args, kwargs)
        if resolved is not None:
            return resolved.taint
        return self._opaque_call(node, args, kwargs)

    def _opaque_call(
        self, node: ast.Call, args: list[Taint | None], kwargs: dict[str, Taint | None]
    ) -> Taint | None:
        name = self.mod.canonical(node.func) or ""
        if name in _SANITIZERS:
            return None
        if isinstance(node.func, ast.Attribute):
            receiver = self.eval(node.func.value)
            if receiver is not None and node.func.attr in _TRANSFORM_METHODS:
                key = const_str(node.args[0]) if node.func.attr == "get" and node.args else None
                return access(receiver.join(join_all(args)), key, f".get({key!r})")
            if receiver is not None:
                return receiver.derived().join(_derived(args, kwargs))
        direct = join_all([*args, *kwargs.values()])
        if direct is not None and name in _TRANSFORM_FUNCS:
            return direct
        return _derived(args, kwargs)


def _derived(args: list[Taint | None], kwargs: dict[str, Taint | None]) -> Taint | None:
    t = join_all([*args, *kwargs.values()])
    return None if t is None else t.derived()


def unpack(target: ast.expr, value: ast.expr) -> list[tuple[ast.expr, ast.expr]]:
    """Pair each name, attribute or subscript an assignment binds with the expression it
    receives: element by element for ``a, b = x, y`` (so ``a`` does not inherit ``y``'s
    secrecy), else the whole value for every element (``a, _ = parse(event)``)."""
    pairs: list[tuple[ast.expr, ast.expr]] = []
    stack = [(target, value)]
    while stack:
        tgt, val = stack.pop()
        if isinstance(tgt, ast.Starred):
            stack.append((tgt.value, val))
        elif isinstance(tgt, ast.Tuple | ast.List):
            vals = _same_shape(tgt, val) or [val] * len(tgt.elts)
            stack += reversed(list(zip(tgt.elts, vals, strict=True)))
        else:
            pairs.append((tgt, val))
    return pairs


def _same_shape(target: ast.Tuple | ast.List, value: ast.expr) -> list[ast.expr] | None:
    if not isinstance(value, ast.Tuple | ast.List) or len(value.elts) != len(target.elts):
        return None
    if any(isinstance(e, ast.Starred) for e in [*target.elts, *value.elts]):
        return None
    return value.elts


def const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


_EVAL: dict[type, Callable[[FunctionAnalysis, ast.AST], Taint | None]] = {
    ast.Name: FunctionAnalysis._name,
    ast.Attribute: FunctionAnalysis._attribute,
    ast.Subscript: FunctionAnalysis._subscript,
    ast.BinOp: FunctionAnalysis._binop,
    ast.Dict: FunctionAnalysis._dict,
    ast.ListComp: FunctionAnalysis._comprehension,
    ast.SetComp: FunctionAnalysis._comprehension,
    ast.GeneratorExp: FunctionAnalysis._comprehension,
    ast.DictComp: FunctionAnalysis._comprehension,
    ast.Call: FunctionAnalysis._call,
}


def param_taint(name: str, source: str) -> Taint:
    return Taint(direct=True, secret=False, source=source or name)


def call_name(node: ast.Call) -> str | None:
    return dotted(node.func)
