"""The CLI as a real process (``python -m keepwarm.audit``) and registered into a Typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from keepwarm.cli.audit_cmd import register

_BUG = "X = None\ndef handler(event, context):\n    global X\n    X = event\n"
_WARN = "C = {}\ndef handler(event, context):\n    C[event['k']] = 1\n"
_CLEAN = "def handler(event, context):\n    return {'ok': event['k']}\n"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwarm.audit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _code(tmp_path: Path, source: str) -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text(source)
    return tmp_path / "fn"


@pytest.mark.parametrize(
    ("source", "fail_on", "code"),
    [(_CLEAN, "error", 0), (_BUG, "error", 1), (_WARN, "error", 0), (_WARN, "warning", 1)],
)
def test_exit_status(tmp_path: Path, source: str, fail_on: str, code: int) -> None:
    _code(tmp_path, source)
    proc = _run("fn", "--fail-on", fail_on, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr


def test_text_output_uses_relative_paths(tmp_path: Path) -> None:
    _code(tmp_path, _BUG)
    proc = _run("fn", cwd=tmp_path)
    assert proc.stdout.startswith("fn/app.py:4:5: KW101 error: ")


def test_json_and_sarif_outputs_parse(tmp_path: Path) -> None:
    _code(tmp_path, _BUG)
    doc = json.loads(_run("fn", "--format", "json", cwd=tmp_path).stdout)
    assert [f["rule"] for f in doc["findings"]] == ["KW101"]
    sarif = json.loads(_run("fn", "--format", "sarif", cwd=tmp_path).stdout)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "KW101"


def test_deeply_nested_code_does_not_lose_the_report(tmp_path: Path) -> None:
    """A file the analysis cannot take is a KW001 warning, not a traceback and exit 1 that
    drops every other file's findings."""
    _code(tmp_path, _BUG)
    chain = "X = []\ndef handler(event, context):\n    X.append(event['a']{})\n"
    (tmp_path / "fn" / "chain.py").write_text(chain.format(" + 'x'" * 800))
    (tmp_path / "fn" / "nested.py").write_text(chain.format(" + 'x'" * 20000))
    (tmp_path / "fn" / "methods.py").write_text(chain.format(".strip()" * 600))
    proc = _run("fn", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == ""
    found = {(f["path"], f["rule"]) for f in json.loads(proc.stdout)["findings"]}
    assert found == {
        ("fn/app.py", "KW101"),
        ("fn/chain.py", "KW101"),
        ("fn/chain.py", "KW102"),
        ("fn/nested.py", "KW001"),
        ("fn/methods.py", "KW001"),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing"], "path does not exist: missing"),
        (["fn", "--format", "xml"], "unknown --format 'xml'"),
        (["fn", "--fail-on", "info"], "unknown --fail-on 'info'"),
        (["fn/notes.txt"], "not a Python or JavaScript file"),
        (["empty"], "no Python or JavaScript files under empty"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    _code(tmp_path, _CLEAN)
    (tmp_path / "fn" / "notes.txt").write_text("hi")
    (tmp_path / "empty").mkdir()
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_no_arguments_is_usage_error(tmp_path: Path) -> None:
    assert _run(cwd=tmp_path).returncode == 2


def test_register_adds_audit_command(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:
        """Another command, so that the app dispatches by name as the real CLI does."""

    result = CliRunner().invoke(app, ["audit", str(_code(tmp_path, _BUG)), "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["summary"]["by_severity"]["error"] == 1


def test_audit_does_not_import_the_server() -> None:
    code = (
        "import sys, keepwarm.audit, keepwarm.cli.audit_cmd, keepwarm.audit.__main__\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('keepwarm')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(proc.stdout.split())
    allowed = ("keepwarm.audit", "keepwarm.cli")
    assert {m for m in loaded if m != "keepwarm" and not m.startswith(allowed)} == set()
