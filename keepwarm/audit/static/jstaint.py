"""Flow-insensitive taint analysis of one JavaScript handler (or helper) function.

Nested callbacks are analysed together with the function that contains them: they run
within the same invocation and close over its locals, which is exactly how the classic
``payments.verify(creditCard, function (err) {...})`` handler is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from keepwarm.audit.static.jsscope import (
    FUNCTION_TYPES,
    JsModule,
    Node,
    declared_in,
    params_of,
    string_value,
    text,
    walk,
)
from keepwarm.audit.static.taint import CallResult, Taint, access, join_all, mark_secret

_TRANSFORM_METHODS = frozenset(
    {
        "toString",
        "trim",
        "toUpperCase",
        "toLowerCase",
        "slice",
        "substring",
        "substr",
        "split",
        "concat",
        "map",
        "filter",
        "join",
        "replace",
        "padStart",
        "padEnd",
        "flat",
        "valueOf",
        "toJSON",
        "get",
        "entries",
        "values",
        "keys",
        "at",
        "find",
        "trimStart",
        "trimEnd",
    }
)
_TRANSFORM_FUNCS = frozenset(
    {
        "JSON.parse",
        "JSON.stringify",
        "String",
        "Object.assign",
        "structuredClone",
        "Buffer.from",
        "Object.entries",
        "Object.values",
        "Object.keys",
        "Array.from",
        "decodeURIComponent",
        "encodeURIComponent",
        "Object.fromEntries",
        "Number",
        "parseInt",
        "parseFloat",
        "atob",
        "btoa",
    }
)
_SANITIZERS = frozenset(
    {
        "Boolean",
        "Array.isArray",
        "console.log",
        "console.error",
        "isNaN",
        "console.info",
        "console.warn",
        "Number.isInteger",
    }
)
_NO_TAINT_OPS = frozenset({"==", "===", "!=", "!==", "<", ">", "<=", ">=", "instanceof", "in"})
MUTATORS = frozenset({"push", "unshift", "set", "add", "splice", "fill"})


class JsResolver(Protocol):
    """Resolves a call to analysable code; ``...`` when the callee is opaque."""

    def resolve(
        self, fa: JsFunction, call: Node, args: list[Taint | None]
    ) -> CallResult | None: ...


@dataclass
class JsFunction:
    """Taint state of one function (with its nested callbacks)."""

    mod: JsModule
    fn: Node
    resolver: JsResolver
    env: dict[str, Taint] = field(default_factory=dict)
    locals: set[str] = field(default_factory=set)
    enclosing: set[str] = field(default_factory=set)
    returns: Taint | None = None

    def __post_init__(self) -> None:
        self.locals = declared_in(self.fn)
        parent = self.fn.parent
        while parent is not None:
            if parent.type in FUNCTION_TYPES:
                self.enclosing |= declared_in(parent)
            parent = parent.parent

    def nodes(self) -> Iterator[Node]:
        body = self.fn.child_by_field_name("body")
        return walk(body) if body is not None else iter(())

    def scope_of(self, name: str) -> str:
        if name in self.locals:
            return "local"
        if name in self.enclosing:
            return "closure"
        if name in self.mod.globals or name not in _BUILTINS:
            return "global"
        return "unknown"

    def run(self) -> None:
        for _ in range(8):
            before = dict(self.env)
            for node in self.nodes():
                self._step(node)
            if before == self.env:
                break
        returns = [
            self.eval(n.named_children[0])
            for n in self.nodes()
            if n.type == "return_statement" and n.named_children
        ]
        body = self.fn.child_by_field_name("body")
        if body is not None and body.type != "statement_block":
            returns.append(self.eval(body))
        self.returns = join_all(returns)

    def _step(self, node: Node) -> None:
        kind = node.type
        if kind == "variable_declarator":
            self.bind(
                node.child_by_field_name("name"), self.eval(node.child_by_field_name("value"))
            )
        elif (
            kind in ("assignment_expression", "augmented_assignment_expression")
            or kind == "for_in_statement"
        ):
            self.bind(
                node.child_by_field_name("left"), self.eval(node.child_by_field_name("right"))
            )
        elif kind == "call_expression":
            self._bind_call(node)

    def _bind_call(self, call: Node) -> None:
        func = call.child_by_field_name("function")
        args = self.args(call)
        self.eval(call)
        if (
            func is not None
            and func.type == "member_expression"
            and text(func.child_by_field_name("property")) in MUTATORS
        ):
            self.bind(func.child_by_field_name("object"), join_all(args))
        callee = self.nested_callee(func)
        if callee is not None:
            for names, t in zip(params_of(callee), args, strict=False):
                for name in names:
                    self._bind_name(name, t)

    def nested_callee(self, func: Node | None) -> Node | None:
        """A function declared inside this one, called by name (its params get the args)."""
        if func is None or func.type != "identifier":
            return None
        name = text(func)
        for node in self.nodes():
            if (
                node.type == "function_declaration"
                and text(node.child_by_field_name("name")) == name
            ):
                return node
            if (
                node.type == "variable_declarator"
                and text(node.child_by_field_name("name")) == name
                and (v := node.child_by_field_name("value")) is not None
                and v.type in FUNCTION_TYPES
            ):
                return v
        return None

    def bind(self, target: Node | None, t: Taint | None) -> None:
        if target is None or t is None:
            return
        if target.type in ("identifier", "shorthand_property_identifier_pattern"):
            self._bind_name(text(target), t)
        elif target.type in ("member_expression", "subscript_expression"):
            key = target.child_by_field_name("property") or target.child_by_field_name("index")
            name = (
                text(key)
                if key is not None and key.type == "property_identifier"
                else string_value(key)
            )
            self.bind(target.child_by_field_name("object"), mark_secret(t, name))
        elif target.type in (
            "object_pattern",
            "array_pattern",
            "assignment_pattern",
            "pair_pattern",
            "rest_pattern",
            "parenthesized_expression",
        ):
            for child in target.named_children:
                if child.type != "property_identifier":
                    self.bind(child, t)

    def _bind_name(self, name: str, t: Taint | None) -> None:
        if t is None or self.scope_of(name) != "local":
            return
        marked = mark_secret(t, name)
        assert marked is not None
        old = self.env.get(name)
        self.env[name] = marked if old is None else old.join(marked)

    def args(self, call: Node) -> list[Taint | None]:
        node = call.child_by_field_name("arguments")
        if node is None:
            return []
        if node.type == "template_string":
            return [self.eval(node)]
        return [self.eval(a) for a in node.named_children if a.type != "comment"]

    def eval(self, node: Node | None) -> Taint | None:
        if node is None:
            return None
        handler = _EVAL.get(node.type)
        if handler is not None:
            return handler(self, node)
        if node.type in FUNCTION_TYPES or node.type in _CONSTANTS:
            return None
        return join_all([self.eval(c) for c in node.named_children])

    def _identifier(self, node: Node) -> Taint | None:
        return self.env.get(text(node))

    def _member(self, node: Node) -> Taint | None:
        key = node.child_by_field_name("property") or node.child_by_field_name("index")
        name = (
            text(key)
            if key is not None and key.type == "property_identifier"
            else string_value(key)
        )
        shown = (
            f".{name}" if key is not None and key.type == "property_identifier" else f"[{name!r}]"
        )
        return access(self.eval(node.child_by_field_name("object")), name, shown)

    def _object(self, node: Node) -> Taint | None:
        parts: list[Taint | None] = []
        for prop in node.named_children:
            if prop.type == "pair":
                key = prop.child_by_field_name("key")
                name = string_value(key) if key is not None and key.type == "string" else text(key)
                parts.append(mark_secret(self.eval(prop.child_by_field_name("value")), name))
            elif prop.type == "shorthand_property_identifier":
                parts.append(self.env.get(text(prop)))
            else:
                parts.append(self.eval(prop))
        return join_all(parts)

    def _binary(self, node: Node) -> Taint | None:
        """Operands of a whole ``a + b + c ...`` chain, gathered with a loop (see pytaint)."""
        operands: list[Node | None] = []
        stack: list[Node | None] = [node]
        while stack:
            cur = stack.pop()
            if cur is None or cur.type != "binary_expression":
                operands.append(cur)
            elif text(cur.child_by_field_name("operator")) not in _NO_TAINT_OPS:
                stack += [cur.child_by_field_name("right"), cur.child_by_field_name("left")]
        return join_all([self.eval(o) for o in operands])

    def _unary(self, node: Node) -> Taint | None:
        op = text(node.child_by_field_name("operator"))
        return (
            None
            if op in ("!", "typeof", "void", "delete")
            else self.eval(node.child_by_field_name("argument"))
        )

    def _ternary(self, node: Node) -> Taint | None:
        return join_all(
            [
                self.eval(node.child_by_field_name("consequence")),
                self.eval(node.child_by_field_name("alternative")),
            ]
        )

    def _call(self, node: Node) -> Taint | None:
        args = self.args(node)
        resolved = self.resolver.resolve(self, node, args)
        if resolved is not None:
            return resolved.taint
        func = node.child_by_field_name("function")
        name = text(func)
        if name in _SANITIZERS:
            return None
        joined = join_all(args)
        if func is not None and func.type == "member_expression":
            receiver = self.eval(func.child_by_field_name("object"))
            method = text(func.child_by_field_name("property"))
            if receiver is not None and method in _TRANSFORM_METHODS:
                return receiver.join(joined)
            if receiver is not None:
                return receiver.derived().join(None if joined is None else joined.derived())
        if joined is not None and name in _TRANSFORM_FUNCS:
            return joined
        return None if joined is None else joined.derived()

    def _new(self, node: Node) -> Taint | None:
        args = self.args(node)
        joined = join_all(args)
        return None if joined is None else joined.derived()


_CONSTANTS = frozenset(
    {
        "string",
        "number",
        "true",
        "false",
        "null",
        "undefined",
        "regex",
        "comment",
        "property_identifier",
    }
)
_BUILTINS = frozenset(
    {
        "console",
        "JSON",
        "Math",
        "Object",
        "Array",
        "String",
        "Number",
        "Promise",
        "Date",
        "Buffer",
        "process",
        "require",
        "module",
        "exports",
        "undefined",
        "Error",
        "Map",
        "Set",
        "Symbol",
        "globalThis",
        "setTimeout",
        "Boolean",
        "parseInt",
        "parseFloat",
        "encodeURIComponent",
        "this",
    }
)
_EVAL: dict[str, Callable[[JsFunction, Node], Taint | None]] = {
    "identifier": JsFunction._identifier,
    "shorthand_property_identifier": JsFunction._identifier,
    "member_expression": JsFunction._member,
    "subscript_expression": JsFunction._member,
    "object": JsFunction._object,
    "binary_expression": JsFunction._binary,
    "unary_expression": JsFunction._unary,
    "ternary_expression": JsFunction._ternary,
    "call_expression": JsFunction._call,
    "new_expression": JsFunction._new,
}


def seed_params(fa: JsFunction, taints: list[Taint | None]) -> None:
    """Taint the positional parameters of ``fa.fn`` (destructured names included)."""
    for names, t in zip(params_of(fa.fn), taints, strict=False):
        for name in names:
            if t is not None:
                fa.env[name] = mark_secret(t, name) or t
