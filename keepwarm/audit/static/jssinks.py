"""JavaScript sinks: stores into module/closure/class state (KW101/KW102/KW104), /tmp
writes without cleanup (KW103) and init-time uniqueness at module level (KW106).
"""

from __future__ import annotations

from dataclasses import dataclass

from keepwarm.audit.static.findings import Collector
from keepwarm.audit.static.jsscope import (
    JsModule,
    Node,
    root_identifier,
    string_value,
    text,
    walk,
)
from keepwarm.audit.static.jstaint import MUTATORS, JsFunction
from keepwarm.audit.static.taint import (
    Taint,
    is_secret_name,
    join_all,
    tmp_write_messages,
    unbounded,
)

_KIND_TEXT = {"global": "module global", "closure": "closure variable", "class": "class property"}
_WRITERS = frozenset(
    {
        "writeFileSync",
        "writeFile",
        "appendFileSync",
        "appendFile",
        "createWriteStream",
        "copyFileSync",
        "copyFile",
    }
)
_REMOVERS = frozenset({"unlinkSync", "unlink", "rmSync", "rm", "rmdirSync", "rmdir"})
_INIT_TIME = frozenset(
    {
        "Math.random",
        "Date.now",
        "crypto.randomUUID",
        "crypto.randomBytes",
        "crypto.getRandomValues",
        "uuid.v4",
        "uuid.v1",
        "uuidv4",
        "randomUUID",
        "randomBytes",
        "performance.now",
        "nanoid",
    }
)


@dataclass
class JsStore:
    node: Node
    kind: str
    target: str
    value: Taint | None
    key: Taint | None = None
    container: str | None = None


def emit_at(out: Collector, mod: JsModule, rule: str, node: Node, message: str) -> None:
    out.emit(rule, mod.display, node.start_point.row + 1, _column(mod, node), message)


def _column(mod: JsModule, node: Node) -> int:
    """1-based column in characters (SARIF's ``unicodeCodePoints``); tree-sitter counts bytes."""
    prefix = mod.source[node.start_byte - node.start_point.column : node.start_byte]
    return len(prefix.decode(errors="ignore")) + 1


def _owner(fa: JsFunction, target: Node | None) -> tuple[str, str] | None:
    root = root_identifier(target)
    if root is None or root.type == "this":
        return None
    name = text(root)
    scope = fa.scope_of(name)
    if scope == "global" and name in fa.mod.classes:
        return "class", name
    if scope in ("global", "closure") and name not in ("module", "exports", "console"):
        return scope, name
    return None


def check_stores(fa: JsFunction, out: Collector) -> None:
    for node in fa.nodes():
        store: JsStore | None = None
        if node.type in ("assignment_expression", "augmented_assignment_expression"):
            store = _assignment(fa, node)
        elif node.type == "call_expression":
            store = _mutation(fa, node)
        if store is not None:
            _report(fa, store, out)


def _assignment(fa: JsFunction, node: Node) -> JsStore | None:
    left = node.child_by_field_name("left")
    value = fa.eval(node.child_by_field_name("right"))
    if left is None:
        return None
    if left.type == "identifier":
        scope = fa.scope_of(text(left))
        return JsStore(left, scope, text(left), value) if scope in ("global", "closure") else None
    owner = _owner(fa, left)
    if owner is None:
        return None
    kind, root = owner
    if left.type == "subscript_expression":
        key = fa.eval(left.child_by_field_name("index"))
        return JsStore(left, kind, root, value, key, container=root)
    container = root if root in fa.mod.containers else None
    return JsStore(left, kind, text(left), value, container=container)


def _mutation(fa: JsFunction, call: Node) -> JsStore | None:
    func = call.child_by_field_name("function")
    args = fa.args(call)
    if text(func) == "Object.assign" and args:
        arg_nodes = call.child_by_field_name("arguments")
        owner = _owner(fa, arg_nodes.named_children[0]) if arg_nodes is not None else None
        if owner is not None:
            return JsStore(call, owner[0], owner[1], join_all(args[1:]), container=owner[1])
        return None
    if func is None or func.type != "member_expression":
        return None
    if text(func.child_by_field_name("property")) not in MUTATORS:
        return None
    owner = _owner(fa, func.child_by_field_name("object"))
    if owner is None or (
        owner[0] == "global" and owner[1] not in fa.mod.containers and owner[1] not in fa.mod.caches
    ):
        return None
    key: Taint | None = None
    if text(func.child_by_field_name("property")) == "set" and args:
        key, args = args[0], args[1:]
    return JsStore(call, owner[0], owner[1], join_all(args), key, container=owner[1])


def _report(fa: JsFunction, s: JsStore, out: Collector) -> None:
    mod = fa.mod
    tainted = s.value or s.key
    if tainted is None:
        return
    where = f"{_KIND_TEXT[s.kind]} '{s.target}'"
    if (s.value and s.value.secret) or (s.key and s.key.secret) or is_secret_name(s.target):
        emit_at(
            out,
            mod,
            "KW104",
            s.node,
            f"secret request data ({tainted.source}) kept in {where} beyond the invocation",
        )
    leak = (
        f"request data ({tainted.source}) stored in {where}; it survives into the next invocation"
    )
    if s.container is None:
        if s.value is not None:
            emit_at(out, mod, "KW101", s.node, leak)
        return
    keyed_cache = s.container in mod.caches or (s.key is not None and s.container in mod.evicted)
    if s.value is not None and s.value.direct and not keyed_cache:
        emit_at(out, mod, "KW101", s.node, leak)
    if s.kind == "global" and s.container in mod.containers and s.container not in mod.evicted:
        emit_at(out, mod, "KW102", s.node, unbounded(s.container, mod.containers[s.container]))


@dataclass(frozen=True)
class _TmpPath:
    fixed: bool
    text: str
    roots: frozenset[str]


def check_tmp(fa: JsFunction, out: Collector) -> None:
    """KW103/KW104 for fs writes under /tmp that the function never removes."""
    names: dict[str, _TmpPath] = {}
    cleaned: set[str] = set()
    writes: list[tuple[Node, _TmpPath, Taint | None]] = []
    for _ in range(2):
        for node in fa.nodes():
            if node.type == "variable_declarator":
                name = node.child_by_field_name("name")
                path = _path_of(fa, node.child_by_field_name("value"), names)
                if path is not None and name is not None and name.type == "identifier":
                    names[text(name)] = _TmpPath(path.fixed, path.text, path.roots | {text(name)})
    for node in fa.nodes():
        if node.type != "call_expression":
            continue
        method = text(node.child_by_field_name("function")).rsplit(".", 1)[-1]
        arg_list = node.child_by_field_name("arguments")
        args = [a for a in arg_list.named_children if a.type != "comment"] if arg_list else []
        index = 1 if method.startswith("copyFile") else 0
        path = _path_of(fa, args[index], names) if len(args) > index else None
        if path is None:
            continue
        if method in _REMOVERS:
            cleaned |= path.roots | {path.text}
        elif method in _WRITERS:
            data = fa.eval(args[1]) if len(args) > 1 and index == 0 else None
            writes.append((node, path, data))
    for node, path, data in writes:
        if not (path.roots | {path.text}) & cleaned:
            _report_tmp(fa, node, path, data, out)


def _path_of(fa: JsFunction, node: Node | None, names: dict[str, _TmpPath]) -> _TmpPath | None:
    if node is None:
        return None
    literal = string_value(node)
    if literal is not None:
        return _TmpPath(True, literal, frozenset({literal})) if literal.startswith("/tmp") else None
    if node.type == "identifier":
        name = text(node)
        const = fa.mod.tmp_consts.get(name)
        return names.get(name) or (
            _TmpPath(True, const, frozenset({const, name})) if const else None
        )
    if node.type == "template_string":
        head = text(node)[1:]
        return (
            _TmpPath(False, head.split("${")[0] + "{...}", frozenset())
            if head.startswith("/tmp")
            else None
        )
    if node.type == "binary_expression":
        left: Node | None = node
        while left is not None and left.type == "binary_expression":  # a loop: chains get long
            left = left.child_by_field_name("left")
        base = _path_of(fa, left, names)
        return None if base is None else _TmpPath(False, base.text + "{...}", base.roots)
    if node.type == "call_expression":
        return _path_call(fa, node, names)
    return None


def _path_call(fa: JsFunction, node: Node, names: dict[str, _TmpPath]) -> _TmpPath | None:
    func = text(node.child_by_field_name("function"))
    arg_list = node.child_by_field_name("arguments")
    args = [a for a in arg_list.named_children if a.type != "comment"] if arg_list else []
    if func in ("os.tmpdir", "tmpdir"):
        return _TmpPath(True, "/tmp", frozenset({"/tmp"}))
    if func.endswith("mkdtempSync"):
        return _TmpPath(False, "/tmp/<mkdtemp>", frozenset())
    if func.endswith(("path.join", "path.resolve")) and args:
        base = _path_of(fa, args[0], names)
        if base is None:
            return None
        rest = [string_value(a) for a in args[1:]]
        if all(r is not None for r in rest):
            return _TmpPath(base.fixed, "/".join([base.text, *[str(r) for r in rest]]), base.roots)
        return _TmpPath(False, base.text + "/{...}", base.roots)
    return None


def _report_tmp(
    fa: JsFunction, node: Node, path: _TmpPath, data: Taint | None, out: Collector
) -> None:
    for rule, message in tmp_write_messages(path.text, path.fixed, data):
        emit_at(out, fa.mod, rule, node, message)


def check_init_time(mod: JsModule, out: Collector) -> None:
    """KW106: random/unique/current values computed at module level (init)."""
    for node in walk(mod.root, into_functions=False):
        if node.type == "call_expression":
            name = text(node.child_by_field_name("function"))
        elif node.type == "new_expression":
            ctor = text(node.child_by_field_name("constructor"))
            args = node.child_by_field_name("arguments")
            no_args = args is None or not args.named_children
            name = "new Date" if ctor == "Date" and no_args else ""
        else:
            continue
        if name in _INIT_TIME or name == "new Date" or name.endswith(".randomUUID"):
            emit_at(
                out,
                mod,
                "KW106",
                node,
                f"{name}() is evaluated once at init, so every invocation (and every "
                "restored snapshot) shares its value",
            )
