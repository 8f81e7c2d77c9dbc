"""Per-rule behaviour of the Python analyser: each bug shape is found at the right line and
each legitimate look-alike is left alone."""

from __future__ import annotations

from collections.abc import Callable

AuditFn = Callable[..., set[tuple[str, int]]]


def test_kw101_global_statement(audit: AuditFn) -> None:
    src = """
    LAST = None
    def handler(event, context):
        global LAST
        LAST = event["user"]
    """
    assert audit(src) == {("KW101", 4)}


def test_kw101_container_store_and_append(audit: AuditFn) -> None:
    src = """
    BY_ID = {}
    LOG = []
    def handler(event, context):
        BY_ID["last"] = event["body"]
        LOG.append(event)
        if len(LOG) > 10:
            LOG.pop(0)
    """
    found = audit(src)
    assert ("KW101", 4) in found
    assert ("KW101", 5) in found
    assert ("KW102", 5) not in found


def test_kw101_class_attribute_and_classmethod(audit: AuditFn) -> None:
    src = """
    class State:
        user = None
        @classmethod
        def remember(cls, who):
            cls.user = who
    def handler(event, context):
        State.remember(event["who"])
        State.tenant = event["tenant"]
    """
    assert audit(src) == {("KW101", 5), ("KW101", 8)}


def test_kw101_nonlocal_closure(audit: AuditFn) -> None:
    src = """
    def factory():
        seen = None
        def handler(event, context):
            nonlocal seen
            seen = event
        return handler
    """
    assert audit(src) == {("KW101", 5)}


def test_kw101_through_helper_in_imported_module(audit: AuditFn) -> None:
    app = """
    from store import keep
    def handler(event, context):
        keep(event["x"])
    """
    store = """
    KEPT = None
    def keep(value):
        global KEPT
        KEPT = value
    """
    assert audit(store, name="store.py", app__py=app) == {("KW101", 4)}


def test_kw101_derived_value_rebinding_global(audit: AuditFn) -> None:
    src = """
    import db
    RESULT = None
    def handler(event, context):
        global RESULT
        RESULT = db.lookup(event["id"])
    """
    assert audit(src) == {("KW101", 5)}


def test_locals_and_lazy_client_are_clean(audit: AuditFn) -> None:
    src = """
    import boto3
    client = None
    COUNT = 0
    def handler(event, context):
        global client, COUNT
        if client is None:
            client = boto3.client("s3")
        COUNT += 1
        data = {"user": event["user"]}
        items = []
        items.append(data)
        client.put_object(Bucket="b", Key=event["key"], Body=b"")
        return items
    """
    assert audit(src) == set()


def test_kw102_unbounded_vs_bounded(audit: AuditFn) -> None:
    src = """
    import db
    A = {}
    B = {}
    def fetch(k):
        return db.get(k)
    def handler(event, context):
        A[event["k"]] = fetch(event["k"])
        if len(B) >= 50:
            B.clear()
        B[event["k"]] = fetch(event["k"])
    """
    assert audit(src) == {("KW102", 7)}


def test_kw102_setdefault_and_functools_cache(audit: AuditFn) -> None:
    src = """
    import functools
    GROUPS = {}
    @functools.cache
    def slow(key):
        return key
    def handler(event, context):
        GROUPS.setdefault(event["g"], []).append(1)
        return slow(event["k"])
    """
    assert audit(src) == {("KW102", 3), ("KW102", 7)}


def test_bounded_caches_are_clean(audit: AuditFn) -> None:
    src = """
    from functools import lru_cache
    from cachetools import LRUCache
    from keepwarm import orc
    LRU = LRUCache(maxsize=10)
    ORC = orc.Cache(max_entries=10)
    @lru_cache(maxsize=32)
    def f(x):
        return x
    def handler(event, context):
        LRU[event["k"]] = event["v"]
        ORC.set(event["k"], event["v"])
        return f(event["k"])
    """
    assert audit(src) == set()


def test_kw103_fixed_tmp_path(audit: AuditFn) -> None:
    src = """
    from pathlib import Path
    OUT = "/tmp/out.txt"
    def handler(event, context):
        with open(OUT, "w") as fh:
            fh.write(event["body"])
        Path("/tmp/marker").write_text("x")
        open("/tmp/read.txt").read()
    """
    assert audit(src) == {("KW103", 4), ("KW103", 6)}


def test_kw103_cleaned_or_per_request_is_clean(audit: AuditFn) -> None:
    src = """
    import os
    def handler(event, context):
        path = f"/tmp/{context.aws_request_id}.json"
        try:
            with open(path, "w") as fh:
                fh.write(event["body"])
        finally:
            os.unlink(path)
        with open("/tmp/fixed", "w") as fh:
            fh.write("x")
        os.remove("/tmp/fixed")
    """
    assert audit(src) == set()


def test_kw103_per_request_path_never_removed(audit: AuditFn) -> None:
    src = """
    def handler(event, context):
        with open(f"/tmp/{context.aws_request_id}", "w") as fh:
            fh.write("x")
    """
    assert audit(src) == {("KW103", 2)}


def test_kw104_secret_in_global_and_tmp(audit: AuditFn) -> None:
    src = """
    TOKENS = []
    def handler(event, context):
        TOKENS.append(event["headers"]["api_key"])
        with open("/tmp/pw", "w") as fh:
            fh.write(event.get("password"))
    """
    found = audit(src)
    assert {("KW104", 3), ("KW104", 4), ("KW103", 4), ("KW101", 3)} <= found


def test_kw104_secret_named_global_even_for_opaque_value(audit: AuditFn) -> None:
    src = """
    import auth
    session_token = None
    def handler(event, context):
        global session_token
        session_token = auth.login(event["user"])
    """
    assert audit(src) == {("KW101", 5), ("KW104", 5)}


def test_kw104_secret_in_bounded_cache_still_reported(audit: AuditFn) -> None:
    src = """
    from cachetools import TTLCache
    C = TTLCache(maxsize=10, ttl=5)
    def handler(event, context):
        C[event["user"]] = event["card_number"]
    """
    assert audit(src) == {("KW104", 4)}


def test_kw105_mutable_default_mutated_only(audit: AuditFn) -> None:
    src = """
    def grows(x, acc=[]):
        acc.append(x)
        return acc
    def reads(x, table={"a": 1}):
        return table.get(x)
    def rebinds(x, acc=[]):
        acc = list(acc)
        acc.append(x)
        return acc
    def safe(x, acc=None):
        acc = acc or []
        acc.append(x)
    """
    assert audit(src) == {("KW105", 1)}


def test_kw106_module_level_only(audit: AuditFn) -> None:
    src = """
    import random, uuid, secrets
    from datetime import datetime
    ID = uuid.uuid4()
    NOW = datetime.now()
    KEY = secrets.token_hex(8)
    RNG = random.SystemRandom()
    def handler(event, context, started=random.random()):
        return uuid.uuid4(), datetime.now()
    """
    assert audit(src) == {("KW106", 3), ("KW106", 4), ("KW106", 5), ("KW106", 7)}


def test_template_handler_entry(audit: AuditFn) -> None:
    src = """
    SEEN = None
    def run(payload, ctx):
        global SEEN
        SEEN = payload
    """
    tpl = "Resources:\n  F:\n    Properties:\n      Handler: app.run\n"
    assert audit(src, template__yaml=tpl) == {("KW101", 4)}
    assert audit(src, name="other.py") == set()


def test_shared_module_instance(audit: AuditFn) -> None:
    src = """
    class Svc:
        def handle(self, event):
            self.last = event
    svc = Svc()
    def handler(event, context):
        local = Svc()
        local.handle(event)
        return svc.handle(event)
    """
    assert audit(src) == {("KW101", 3)}


def test_syntax_error_reported_as_kw001(audit: AuditFn) -> None:
    assert audit("def handler(event, context:\n    pass\n") == {("KW001", 1)}
