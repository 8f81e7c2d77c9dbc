"""Stores into module state through less common shapes: unpacking assignments, and method
calls on containers held by a class or by an attribute of a module-level object."""

from __future__ import annotations

from collections.abc import Callable

from keepwarm.audit import AuditReport

AuditFn = Callable[..., set[tuple[str, int]]]


def test_kw101_unpacking_into_globals(
    audit: AuditFn, report_for: Callable[..., AuditReport]
) -> None:
    src = """
    USER = TOKEN = LAST = FIRST = REST = None
    def parse(e):
        return e["user"], e["id"]
    def handler(event, context):
        global USER, TOKEN, LAST, FIRST, REST
        USER, TOKEN = event["user"], event["token"]
        LAST, _ = parse(event)
        (FIRST, [*REST]) = event["a"], [event["b"], event["c"]]
    """
    assert audit(src) == {("KW101", 6), ("KW104", 6), ("KW101", 7), ("KW101", 8)}
    line6 = {(f.rule_id, f.col) for f in report_for({"app.py": src}).findings if f.line == 6}
    assert line6 == {("KW101", 5), ("KW101", 11), ("KW104", 11)}  # the token only: TOKEN


def test_unpacked_locals_keep_their_own_secrecy(audit: AuditFn) -> None:
    src = """
    LAST = None
    def handler(event, context):
        global LAST
        user, token = event["user"], event["token"]
        LAST = user
        return {"ok": bool(token)}
    """
    assert audit(src) == {("KW101", 5)}


def test_kw101_append_to_class_attribute_container(
    audit: AuditFn, report_for: Callable[..., AuditReport]
) -> None:
    src = """
    import redis
    class Registry:
        seen = []
        by_id: dict = {}
        client = redis.Redis()
    def handler(event, context):
        Registry.seen.append(event["user"])
        Registry.by_id.setdefault(event["id"], event["user"])
        Registry.client.set(event["id"], event["user"])
    """
    assert audit(src) == {("KW101", 7), ("KW101", 8)}
    messages = [f.message for f in report_for({"app.py": src}).findings if f.line == 7]
    assert messages == [
        "request data (event['user']) stored in class attribute 'Registry.seen'; it survives "
        "into the next invocation"
    ]


def test_kw101_append_to_attribute_of_module_object(audit: AuditFn) -> None:
    src = """
    import types
    import redis
    from dataclasses import dataclass, field
    class State:
        def __init__(self):
            self.seen = set()
    @dataclass
    class Log:
        lines: list = field(default_factory=list)
    STATE = State()
    STATE.history = []
    LOG = Log()
    NS = types.SimpleNamespace(recent=[], cache=redis.Redis())
    def handler(event, context):
        STATE.history.append(event["card_number"])
        STATE.seen.add(event["user"])
        LOG.lines.append(event["user"])
        NS.recent.append(event["user"])
        NS.cache.set(event["id"], event["user"])
    """
    found = audit(src)
    assert found == {("KW101", 15), ("KW104", 15), ("KW101", 16), ("KW101", 17), ("KW101", 18)}
