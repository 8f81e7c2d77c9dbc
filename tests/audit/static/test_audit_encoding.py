"""Source encodings: a file the interpreter accepts (PEP 263 coding cookie, UTF-8 BOM) is
audited like its ASCII twin, and one it refuses gives KW001 instead of a guessed analysis."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepwarm.audit import AuditReport, audit_paths

_LEAK = """{first}
LABEL = "{label}"
CACHE = {{}}
def handler(event, context):
    CACHE[event["user"]] = event["password"]{tail}
    return 1
"""
_EXPECTED = {("KW101", 5, 5), ("KW102", 5, 5), ("KW104", 5, 5)}

_ENCODED = {
    "latin-1": _LEAK.format(first="# -*- coding: latin-1 -*-", label="café", tail="").encode(
        "latin-1"
    ),
    "cp1252": _LEAK.format(first="# coding: cp1252", label="“€ café”", tail="").encode("cp1252"),
    "utf-8-bom": b"\xef\xbb\xbf" + _LEAK.format(first="# café", label="é", tail="").encode(),
}


def _audit(tmp_path: Path, data: bytes, name: str = "app.py") -> AuditReport:
    """Audit ``data`` written verbatim (no re-encoding) as the only file of a code dir."""
    code = tmp_path / name.removesuffix(".py")
    code.mkdir()
    (code / name).write_bytes(data)
    return audit_paths([code / name])


def _located(report: AuditReport) -> set[tuple[str, int, int, str]]:
    return {(f.rule_id, f.line, f.col, f.message) for f in report.findings}


@pytest.mark.parametrize("encoding", list(_ENCODED))
def test_declared_encoding_audited_like_ascii(tmp_path: Path, encoding: str) -> None:
    data = _ENCODED[encoding]
    compile(data, "app.py", "exec")  # the interpreter accepts the file as written
    ascii_src = _LEAK.format(first="# plain", label="cafe", tail="").encode("ascii")
    baseline = _located(_audit(tmp_path, ascii_src, "ascii_app.py"))
    assert {(rule, line, col) for rule, line, col, _ in baseline} == _EXPECTED
    assert _located(_audit(tmp_path, data)) == baseline


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8-sig"])
def test_suppression_comment_in_declared_encoding(tmp_path: Path, encoding: str) -> None:
    first = "# coding: latin-1" if encoding == "latin-1" else "# plain"
    src = _LEAK.format(first=first, label="café", tail="  # keepwarm: ignore[KW104] clé")
    report = _audit(tmp_path, src.encode(encoding))
    assert {(f.rule_id, f.line) for f in report.findings} == {("KW101", 5), ("KW102", 5)}
    assert report.suppressed == 1


def test_bom_does_not_turn_first_line_comment_inline(tmp_path: Path) -> None:
    # a BOM read as text would make line 1 look like code, so the standalone comment
    # would suppress its own line instead of the next one
    src = "# keepwarm: ignore[KW106]\nimport uuid; ID = uuid.uuid4()\n"
    src += "def handler(event, context):\n    return ID\n"
    report = _audit(tmp_path, src.encode("utf-8-sig"))
    assert report.findings == []
    assert report.suppressed == 1


def test_imported_helper_in_declared_encoding(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "from store import keep\ndef handler(event, context):\n    keep(event['password'])\n"
    )
    helper = "# coding: cp1252\n# “stored” €\nSEEN = []\ndef keep(value):\n    SEEN.append(value)\n"
    (code / "store.py").write_bytes(helper.encode("cp1252"))
    report = audit_paths([code])
    found = {(Path(f.path).name, f.rule_id, f.line) for f in report.findings}
    assert ("store.py", "KW104", 5) in found
    assert all(rule != "KW001" for _, rule, _ in found)


@pytest.mark.parametrize(
    "data",
    [
        _LEAK.format(first="# coding: ascii", label="café", tail="").encode("utf-8"),
        _LEAK.format(first="# coding: no-such-codec", label="cafe", tail="").encode("ascii"),
    ],
    ids=["bytes-invalid-in-declared-encoding", "unknown-encoding"],
)
def test_undecodable_source_is_kw001(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(SyntaxError):
        compile(data, "app.py", "exec")  # the interpreter refuses it too
    report = _audit(tmp_path, data)
    assert [(f.rule_id, f.line) for f in report.findings] == [("KW001", 1)]
    assert report.findings[0].message.startswith("cannot parse:")


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_columns_count_characters_not_bytes(tmp_path: Path, encoding: str) -> None:
    """SARIF declares ``unicodeCodePoints``: accented text before a finding moves it by one
    column per character, whatever the file's encoding (ast's offsets count UTF-8 bytes)."""
    src = (
        f"# coding: {encoding}\n"
        "CACHE = {}\n"
        "def handler(event, context):\n"
        '    x = "éé"; CACHE[event["user"]] = event["password"]\n'
    )
    found = {(f.rule_id, f.col) for f in _audit(tmp_path, src.encode(encoding)).findings}
    column = src.splitlines()[3].index("CACHE") + 1
    assert found and {col for _, col in found} == {column}


def test_javascript_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    src = (
        "const CACHE = {};\n"
        "exports.handler = async (event) => {\n"
        '  const x = "éé"; CACHE[event.user] = event.password;\n'
        "};\n"
    )
    found = {(f.rule_id, f.col) for f in _audit(tmp_path, src.encode(), "app.js").findings}
    column = src.splitlines()[2].index("CACHE") + 1
    assert found and {col for _, col in found} == {column}


def test_javascript_suppression_survives_a_non_utf8_byte(tmp_path: Path) -> None:
    src = (
        b"const CACHE = {}; // caf\xe9 (latin-1, not UTF-8)\n"
        b"exports.handler = async (event) => {\n"
        b"  CACHE[event.user] = event.password; // keepwarm: ignore\n"
        b"};\n"
    )
    report = _audit(tmp_path, src, "app.js")
    assert report.findings == [] and report.suppressed >= 1
