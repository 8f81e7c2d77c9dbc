"""Generated code can nest expressions thousands of levels deep. The analyses recurse along
nesting, so such code is either analysed (operator chains are walked with loops) or reported
as KW001 for the function or file concerned: never a traceback that loses the findings of
every other file."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from keepwarm.audit import AuditReport

AuditFn = Callable[..., set[tuple[str, int]]]
ReportFn = Callable[..., AuditReport]


def _concat(n: int) -> str:
    return "event['a']" + " + 'x'" * n


def _methods(n: int) -> str:
    return "event['a']" + ".strip()" * n


def _found(report: AuditReport) -> set[tuple[str, str, int]]:
    return {(f.path.rsplit("/", 1)[-1], f.rule_id, f.line) for f in report.findings}


def test_long_operator_chains_are_analysed(audit: AuditFn) -> None:
    src = (
        "X = []\n"
        "def handler(event, context):\n"
        f"    X.append({_concat(800)})\n"
        f"    path = '/tmp/out' + {_concat(1500)}\n"
        "    open(path, 'w')\n"
    )
    assert audit(src) == {("KW101", 3), ("KW102", 3), ("KW103", 5)}


def test_too_deep_function_is_kw001_and_the_rest_is_audited(audit: AuditFn) -> None:
    src = (
        "X = []\n"
        "LAST = None\n"
        "def deep(event, context):\n"
        f"    X.append({_methods(600)})\n"
        "def handler(event, context):\n"
        "    global LAST\n"
        "    LAST = event['b']\n"
    )
    assert audit(src) == {("KW001", 4), ("KW101", 7)}


def test_too_deep_helper_is_reported_in_its_own_file(report_for: ReportFn) -> None:
    helper = f"KEPT = []\ndef keep(e):\n    KEPT.append({_methods(600).replace('event', 'e')})\n"
    app = (
        "import helper\n"
        "LAST = None\n"
        "def handler(event, context):\n"
        "    global LAST\n"
        "    helper.keep(event)\n"
        "    LAST = event['b']\n"
    )
    found = _found(report_for({"app.py": app, "helper.py": helper}))
    assert found == {("helper.py", "KW001", 3), ("app.py", "KW101", 6)}


@contextmanager
def _stack_budget(frames: int) -> Iterator[None]:
    """Make the stack run out ``frames`` calls below here, whatever pytest's own depth."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_shallow_helper_is_not_blamed_for_its_callers_nesting(report_for: ReportFn) -> None:
    """Wherever the stack runs out is where the error is raised: deep in the handler's chain,
    or in a helper called from the bottom of it. The KW001 must name the deep code."""
    helper = "def keep(e):\n    return e" + ".strip()" * 20 + "\n"
    blamed: set[str] = set()
    with _stack_budget(300):
        for n in range(10, 200, 5):
            app = "import helper\ndef handler(event, context):\n    return " + _methods(n)
            app = app.replace("event['a']", "helper.keep(event)")
            found = _found(report_for({"app.py": app, "helper.py": helper}))
            blamed |= {path for path, rule, _ in found if rule == "KW001"}
    assert blamed == {"app.py"}


def test_file_too_deep_for_the_parser_is_kw001(report_for: ReportFn) -> None:
    files = {
        "adds.py": f"X = []\ndef handler(event, context):\n    X.append({_concat(20000)})\n",
        "powers.py": "Y = event" + " ** 2" * 5000 + "\n",  # the parser's MemoryError
        "names.py": "import os\nY = os" + ".sep" * 1500 + "()\n",  # parsed and indexed fine
        "app.py": "X = None\ndef handler(event, context):\n    global X\n    X = event\n",
    }
    found = _found(report_for(files))
    assert found == {("adds.py", "KW001", 1), ("powers.py", "KW001", 1), ("app.py", "KW101", 4)}


def test_javascript_chains(audit: AuditFn) -> None:
    def handler(expr: str) -> str:
        return f"const X = [];\nexports.handler = async (event) => {{\n  X.push({expr});\n}};\n"

    assert audit(handler("event.a" + " + 'x'" * 3000), name="a.js") == {("KW101", 3), ("KW102", 3)}
    assert audit(handler("event.a" + ".trim()" * 800), name="b.js") == {("KW001", 2)}
