"""Parsing and module-level facts for JavaScript handlers, on tree-sitter's syntax tree.

Mirrors ``pyscope`` for CommonJS and ES modules: module-level bindings, plain containers,
bounded caches, eviction evidence, exported functions and local ``require``/``import``
bindings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter
import tree_sitter_javascript

Node = tree_sitter.Node
FUNCTION_TYPES = frozenset(
    {
        "function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
        "function",
    }
)
_CONTAINER_CTORS = frozenset({"Map", "Set", "Array", "Object"})
_CACHE_CTORS = frozenset({"LRUCache", "LRU", "QuickLRU", "TTLCache"})
_EVICTORS = frozenset({"delete", "clear", "shift", "pop", "splice", "evict", "prune"})
_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))


def parse(source: bytes) -> tree_sitter.Tree:
    return _PARSER.parse(source)


def text(node: Node | None) -> str:
    return "" if node is None or node.text is None else node.text.decode("utf-8", "replace")


def string_value(node: Node | None) -> str | None:
    """The value of a string literal (or a template literal without substitutions)."""
    if node is None or node.type not in ("string", "template_string"):
        return None
    if any(c.type == "template_substitution" for c in node.named_children):
        return None
    return text(node)[1:-1]


def walk(node: Node, into_functions: bool = True) -> Iterator[Node]:
    """Pre-order walk; optionally without entering nested function bodies."""
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        if cur is not node and not into_functions and cur.type in FUNCTION_TYPES:
            continue
        stack.extend(reversed(cur.named_children))


def pattern_names(node: Node | None) -> list[str]:
    """Identifiers bound by a declarator name or parameter pattern."""
    if node is None:
        return []
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [text(node)]
    if node.type == "assignment_pattern":
        return pattern_names(node.child_by_field_name("left"))
    if node.type == "pair_pattern":
        return pattern_names(node.child_by_field_name("value"))
    return [n for c in node.named_children for n in pattern_names(c)]


def params_of(fn: Node) -> list[list[str]]:
    """Per positional parameter, the names it binds (destructuring binds several)."""
    single = fn.child_by_field_name("parameter")
    if single is not None:
        return [pattern_names(single)]
    params = fn.child_by_field_name("parameters")
    if params is None:
        return []
    return [pattern_names(p) for p in params.named_children if p.type != "comment"]


def declared_in(fn: Node) -> set[str]:
    """Names declared anywhere inside ``fn`` (params, var/let/const, functions, catch)."""
    names = {n for group in params_of(fn) for n in group}
    body = fn.child_by_field_name("body")
    for node in walk(body) if body is not None else []:
        if node.type == "variable_declarator":
            names.update(pattern_names(node.child_by_field_name("name")))
        elif node.type in FUNCTION_TYPES and node is not fn:
            names.update(n for group in params_of(node) for n in group)
            if node.type.endswith("declaration") and (nm := node.child_by_field_name("name")):
                names.add(text(nm))
        elif node.type == "catch_clause":
            names.update(pattern_names(node.child_by_field_name("parameter")))
        elif node.type == "for_in_statement" and node.child_by_field_name("kind") is not None:
            names.update(pattern_names(node.child_by_field_name("left")))
    return names


def root_identifier(node: Node | None) -> Node | None:
    """The identifier under ``a.b[c].get(k)``-style chains."""
    while node is not None:
        if node.type in ("identifier", "this"):
            return node
        if node.type in ("member_expression", "subscript_expression"):
            node = node.child_by_field_name("object")
        elif node.type == "call_expression":
            func = node.child_by_field_name("function")
            node = (
                func.child_by_field_name("object")
                if func is not None and func.type == "member_expression"
                else None
            )
        elif node.type == "parenthesized_expression":
            node = node.named_children[0] if node.named_children else None
        else:
            return None
    return None


@dataclass
class JsModule:
    """One parsed JavaScript file and its module-level facts."""

    path: Path
    display: str
    source: bytes
    tree: tree_sitter.Tree
    globals: set[str] = field(default_factory=set)
    containers: dict[str, int] = field(default_factory=dict)
    caches: set[str] = field(default_factory=set)
    evicted: set[str] = field(default_factory=set)
    classes: set[str] = field(default_factory=set)
    functions: dict[str, Node] = field(default_factory=dict)
    exports: dict[str, Node] = field(default_factory=dict)
    requires: dict[str, str] = field(default_factory=dict)
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    tmp_consts: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Node:
        return self.tree.root_node


def index_js(mod: JsModule) -> None:
    """Fill in module-level facts of ``mod``."""
    for stmt in mod.root.named_children:
        inner = stmt.child_by_field_name("declaration") if stmt.type == "export_statement" else stmt
        if inner is not None:
            _index_stmt(mod, inner)
        if stmt.type == "import_statement":
            _index_import(mod, stmt)
        if stmt.type == "export_statement" and inner is not None:
            _export_decl(mod, inner)
    for node in walk(mod.root):
        _index_eviction(mod, node)


def _index_stmt(mod: JsModule, stmt: Node) -> None:
    if stmt.type in ("lexical_declaration", "variable_declaration"):
        for decl in stmt.named_children:
            if decl.type == "variable_declarator":
                _index_declarator(mod, decl)
    elif stmt.type in ("function_declaration", "generator_function_declaration"):
        name = text(stmt.child_by_field_name("name"))
        mod.globals.add(name)
        mod.functions[name] = stmt
    elif stmt.type == "class_declaration":
        name = text(stmt.child_by_field_name("name"))
        mod.globals.add(name)
        mod.classes.add(name)
    elif stmt.type == "expression_statement" and stmt.named_children:
        expr = stmt.named_children[0]
        if expr.type == "assignment_expression":
            _index_export_assignment(mod, expr)


def _index_declarator(mod: JsModule, decl: Node) -> None:
    name_node = decl.child_by_field_name("name")
    value = decl.child_by_field_name("value")
    names = pattern_names(name_node)
    mod.globals.update(names)
    if value is None or name_node is None:
        return
    req = _require_target(value)
    if req is not None:
        if name_node.type == "identifier":
            mod.requires[names[0]] = req
        else:
            for prop in name_node.named_children:
                exported = (
                    text(prop.child_by_field_name("key"))
                    if prop.type == "pair_pattern"
                    else text(prop)
                )
                for local in pattern_names(prop):
                    mod.imported[local] = (req, exported)
        return
    if name_node.type != "identifier":
        return
    name = names[0]
    if value.type in ("function_expression", "arrow_function"):
        mod.functions[name] = value
    elif value.type in ("object", "array"):
        mod.containers[name] = value.start_point.row + 1
    elif value.type == "new_expression":
        ctor = text(value.child_by_field_name("constructor"))
        if ctor in _CONTAINER_CTORS:
            mod.containers[name] = value.start_point.row + 1
        elif ctor.rsplit(".", 1)[-1] in _CACHE_CTORS:
            mod.caches.add(name)
    elif value.type == "call_expression" and text(value.child_by_field_name("function")) in (
        "Object.create",
    ):
        mod.containers[name] = value.start_point.row + 1
    literal = string_value(value)
    if literal is not None and literal.startswith("/tmp"):
        mod.tmp_consts[name] = literal


def _require_target(value: Node) -> str | None:
    if value.type != "call_expression" or text(value.child_by_field_name("function")) != "require":
        return None
    args = value.child_by_field_name("arguments")
    first = args.named_children[0] if args is not None and args.named_children else None
    return string_value(first)


def _index_import(mod: JsModule, stmt: Node) -> None:
    source = string_value(stmt.child_by_field_name("source"))
    clause = next((c for c in stmt.named_children if c.type == "import_clause"), None)
    if source is None or clause is None:
        return
    for part in clause.named_children:
        if part.type == "identifier":
            mod.imported[text(part)] = (source, "default")
        elif part.type == "namespace_import":
            mod.requires[text(part.named_children[-1])] = source
        elif part.type == "named_imports":
            for spec in part.named_children:
                names = [text(c) for c in spec.named_children if c.type == "identifier"]
                if names:
                    mod.imported[names[-1]] = (source, names[0])
    mod.globals.update(mod.imported)
    mod.globals.update(mod.requires)


def _export_decl(mod: JsModule, decl: Node) -> None:
    if decl.type in ("function_declaration", "generator_function_declaration"):
        mod.exports[text(decl.child_by_field_name("name"))] = decl
    elif decl.type in ("lexical_declaration", "variable_declaration"):
        for d in decl.named_children:
            value = d.child_by_field_name("value")
            if value is not None and value.type in ("function_expression", "arrow_function"):
                mod.exports[text(d.child_by_field_name("name"))] = value


def _index_export_assignment(mod: JsModule, expr: Node) -> None:
    left = text(expr.child_by_field_name("left"))
    right = expr.child_by_field_name("right")
    if right is None:
        return
    prefix = next((p for p in ("module.exports.", "exports.") if left.startswith(p)), None)
    if prefix is not None:
        name = left[len(prefix) :]
        target = mod.functions.get(text(right)) if right.type == "identifier" else right
        if target is not None and target.type in FUNCTION_TYPES:
            mod.exports[name] = target
    elif left == "module.exports" and right.type == "object":
        for prop in right.named_children:
            key = prop.child_by_field_name("key") if prop.type == "pair" else prop
            value = prop.child_by_field_name("value") if prop.type == "pair" else prop
            target = (
                mod.functions.get(text(value))
                if value is not None
                and value.type in ("identifier", "shorthand_property_identifier")
                else value
            )
            if key is not None and target is not None and target.type in FUNCTION_TYPES:
                mod.exports[text(key)] = target


def _index_eviction(mod: JsModule, node: Node) -> None:
    """Names with evidence of being bounded: delete, .delete/.clear/.shift, size checks."""
    if node.type == "unary_expression" and text(node).startswith("delete"):
        root = root_identifier(node.child_by_field_name("argument"))
        if root is not None:
            mod.evicted.add(text(root))
    elif node.type == "call_expression":
        func = node.child_by_field_name("function")
        if (
            func is not None
            and func.type == "member_expression"
            and text(func.child_by_field_name("property")) in _EVICTORS
        ):
            root = root_identifier(func.child_by_field_name("object"))
            if root is not None:
                mod.evicted.add(text(root))
    elif node.type == "binary_expression" and text(node.child_by_field_name("operator")) in (
        ">",
        ">=",
        "<",
        "<=",
        "===",
        "==",
    ):
        for sub in walk(node):
            if sub.type == "member_expression" and text(sub.child_by_field_name("property")) in (
                "size",
                "length",
            ):
                root = root_identifier(sub.child_by_field_name("object"))
                if root is not None and text(root) != "Object":
                    mod.evicted.add(text(root))
                elif root is not None:
                    mod.evicted.update(text(a) for a in walk(sub) if a.type == "identifier")
