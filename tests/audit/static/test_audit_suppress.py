from __future__ import annotations

from collections.abc import Callable

from keepwarm.audit.static.suppress import parse_marker, python_suppressions

AuditFn = Callable[..., set[tuple[str, int]]]

_PY = """
X = None
Y = None
def handler(event, context):
    global X, Y
    X = event  # keepwarm: ignore[KW101]
    # keepwarm: ignore[KW102]
    Y = event
    s = "# keepwarm: ignore[KW101]"; Y = event
"""


def test_parse_marker() -> None:
    assert parse_marker("# keepwarm: ignore[KW101, kw104]") == {"KW101", "KW104"}
    assert parse_marker("// keepwarm: ignore") == {"*"}
    assert parse_marker("# unrelated") is None


def test_python_inline_and_preceding_line() -> None:
    table = python_suppressions(_PY)
    assert table[6] == {"KW101"}
    assert table[8] == {"KW102"}
    assert 9 not in table


def test_suppression_applies_per_rule(audit: AuditFn) -> None:
    # the fixture strips the leading newline, so lines are one less than in _PY
    assert audit(_PY) == {("KW101", 7), ("KW101", 8)}


def test_js_comments(audit: AuditFn) -> None:
    src = """
    let a, b;
    exports.handler = async (event) => {
      a = event.x; // keepwarm: ignore[KW101]
      // keepwarm: ignore
      b = event.y;
      const s = "// keepwarm: ignore"; b = event.z;
    };
    """
    assert audit(src, name="index.js") == {("KW101", 6)}
