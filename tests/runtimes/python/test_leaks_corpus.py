"""Precision and recall of dynamic leak detection on the Python part of the audit corpus.

Each corpus handler runs in a real environment under ``check_leaks`` with an event that
exercises it (values long enough to be candidates). A file counts as flagged when a LEAK points
into it: a global of its module, or a ``/tmp`` file its handler left. Labels are the static
audit's (``tests/audit/corpus/expected.json``); the detector is scored against KW101/KW104
("request data kept in state"), and, for context, against every retention rule KW101-KW105.
Run this file as a script to print the table in docs/audit.md.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig

CORPUS = Path(__file__).resolve().parents[2] / "audit" / "corpus"
STRICT = frozenset({"KW101", "KW104"})
RETENTION = frozenset({"KW101", "KW102", "KW103", "KW104", "KW105"})

STUBS = {
    "payments.py": "def verify(card):\n    return bool(card.get('number'))\n",
    "boto3.py": '''"""Offline stand-in for boto3: answers from the request, keeps nothing."""


class _Table:
    def get_item(self, Key=None, **kw):
        return {"Item": {"key": dict(Key or {})}}


class _Client:
    def get_item(self, TableName=None, Key=None, **kw):
        return {"Item": {"key": dict(Key or {})}}

    def put_object(self, **kw):
        return {}


class _Resource:
    def Table(self, name):
        return _Table()


def client(name, **kw):
    return _Client()


def resource(name, **kw):
    return _Resource()
''',
}

CARD: dict[str, object] = {
    "credit_card_number": "4111111111111111",
    "credit_card_expiration": "12/30",
    "credit_card_security_code": "123",
}
EVENTS: dict[str, tuple[str, dict[str, object]]] = {
    "py_calls_helper.py": ("handler", {"customer": "cust-000123"}),
    "py_class_attr.py": (
        "handler",
        {
            "requestContext": {"authorizer": {"user": "alice-1234"}},
            "headers": {"x-tenant": "tenant-42a"},
        },
    ),
    "py_clean_bounded_dict.py": ("handler", {"key": "item-000777"}),
    "py_clean_cachetools.py": ("handler", {"pathParameters": {"id": "user-000555"}}),
    "py_clean_db_client.py": ("handler", {"order_id": "order-000999"}),
    "py_clean_locals_only.py": ("handler", {"body": {"currency": "eur", "note": "hello-world"}}),
    "py_clean_lru_cache.py": ("handler", {"city": "Amsterdam"}),
    "py_clean_orc_cache.py": ("handler", {"sku": "sku-123456", "currency": "eur"}),
    "py_clean_tempdir.py": ("handler", {"body": "some-secret-body"}),
    "py_clean_tmp_cleanup.py": ("handler", {"note": "private-note-1"}),
    "py_closure_nonlocal.py": ("handler", {"order": {"id": "order-31337"}}),
    "py_credit_card_global.py": ("handler", CARD),
    "py_credit_card_local.py": ("handler", CARD),
    "py_functools_cache.py": ("handler", {"template": "welcome-email", "locale": "nl-NL"}),
    "py_global_list_append.py": ("lambda_handler", {"path": "/orders/12345", "body": "abc-def"}),
    "py_init_uniqueness.py": ("handler", {"any": "value-123456"}),
    "py_mutable_default.py": ("handler", {"Records": [{"messageId": "msg-000001"}]}),
    "py_session_tokens.py": ("handler", {"user": "alice-1234", "token": "tok-abcdef123"}),
    "py_shared_instance.py": ("handler", {"order": {"id": "order-424242"}}),
    "py_suppressed.py": ("handler", {"user": "someone-1"}),
    "py_tmp_fixed_path.py": ("handler", {"body": {"note": "private-note-2"}}),
    "py_tmp_secret.py": ("handler", {"password": "hunter2-secret"}),
    "py_unbounded_cache.py": ("handler", {"item": "item-000888"}),
    "sam_app/app.py": ("process", {"records": [{"id": "rec-000001"}]}),
}
HELPERS = {"py_state_helpers.py"}  # no handler of its own: exercised through py_calls_helper


def python_labels() -> dict[str, set[str]]:
    raw = json.loads((CORPUS / "expected.json").read_text())
    return {name: set(ids) for name, ids in raw.items() if name.endswith(".py")}


def _module(rel: str) -> str:
    return rel.removesuffix(".py").replace("/", ".")


def _code_dir(root: Path) -> Path:
    code = root / "code"
    for rel in python_labels():
        (code / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, code / rel)
    for name, source in STUBS.items():
        (code / name).write_text(source)
    return code


def _owner(location: str, ran: str) -> str:
    """The corpus file a LEAK location points into (a /tmp file: the handler that ran)."""
    if location.startswith("/"):
        return ran
    modules = sorted(((_module(rel), rel) for rel in python_labels()), key=lambda m: -len(m[0]))
    return next((rel for mod, rel in modules if location.startswith(mod + ".")), ran)


def run_corpus(root: Path) -> dict[str, list[str]]:
    """Every handler once under check_leaks: {corpus file: LEAK descriptions pointing into it}."""
    code = _code_dir(root)
    configs = {
        rel: FunctionConfig(
            rel.removesuffix(".py").replace("/", "-"), f"{_module(rel)}.{fn}", code, timeout_s=10
        )
        for rel, (fn, _) in EVENTS.items()
    }
    flagged: dict[str, list[str]] = {}
    server = ServerConfig(data_dir=root / "data", check_leaks=True)
    with Runtime(list(configs.values()), server=server) as rt:
        for rel, config in configs.items():
            for leak in rt.invoke(config.name, EVENTS[rel][1]).leaks:
                owner = _owner(leak.location, rel)
                flagged.setdefault(owner, []).append(f"{leak.location} <- {leak.event_field}")
    return flagged


def score(flagged: dict[str, list[str]], rules: frozenset[str]) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for name, ids in python_labels().items():
        positive, hit = bool(ids & rules), name in flagged
        tp, fp = tp + (positive and hit), fp + (hit and not positive)
        fn, tn = fn + (positive and not hit), tn + (not positive and not hit)
    return tp, fp, fn, tn


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    return run_corpus(tmp_path_factory.mktemp("corpus"))


def test_every_python_corpus_file_is_exercised() -> None:
    assert set(EVENTS) | HELPERS == set(python_labels())


def test_recall_on_request_data_kept_in_state(flagged: dict[str, list[str]]) -> None:
    tp, _, fn, _ = score(flagged, STRICT)
    assert fn == 0, flagged
    assert tp == 9


def test_flagged_files_are_the_known_set(flagged: dict[str, list[str]]) -> None:
    """Pins the table of docs/audit.md: the four extra files retain request data on purpose
    (caches, a /tmp spool, a mutable default), which the detector cannot tell from a leak."""
    strict = {n for n, ids in python_labels().items() if ids & STRICT}
    extra = {
        "py_unbounded_cache.py",
        "py_tmp_fixed_path.py",
        "py_mutable_default.py",
        "py_clean_bounded_dict.py",
    }
    assert set(flagged) == strict | extra


def test_credit_card_pair(flagged: dict[str, list[str]]) -> None:
    assert flagged["py_credit_card_global.py"] == [
        "py_credit_card_global.creditCard['number'] <- credit_card_number"
    ]
    assert "py_credit_card_local.py" not in flagged


def _table(flagged: dict[str, list[str]]) -> Iterator[str]:
    labels = python_labels()
    yield "| file | labels | dynamic LEAK findings |"
    yield "|---|---|---|"
    for name in sorted(labels):
        found = "; ".join(f"`{x}`" for x in flagged.get(name, [])) or "-"
        yield f"| {name} | {', '.join(sorted(labels[name])) or '(clean)'} | {found} |"
    for title, rules in (("KW101/KW104", STRICT), ("KW101-KW105", RETENTION)):
        tp, fp, fn, tn = score(flagged, rules)
        yield (
            f"\n{title}: TP={tp} FP={fp} FN={fn} TN={tn} "
            f"precision={tp / (tp + fp):.2f} recall={tp / (tp + fn):.2f}"
        )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        sys.stdout.write("\n".join(_table(run_corpus(Path(scratch)))) + "\n")
