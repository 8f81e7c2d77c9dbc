from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from keepwarm.audit import AuditReport, audit_paths

AuditFn = Callable[..., set[tuple[str, int]]]


@pytest.fixture
def write_tree(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write ``{relative path: source}`` (dedented) under a fresh code directory."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "code"
        for rel, src in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(src).lstrip("\n"), encoding="utf-8")
        return root

    return write


@pytest.fixture
def report_for(write_tree: Callable[[dict[str, str]], Path]) -> Callable[..., AuditReport]:
    def run(files: dict[str, str]) -> AuditReport:
        return audit_paths([write_tree(files)])

    return run


@pytest.fixture
def audit(report_for: Callable[..., AuditReport]) -> AuditFn:
    """Audit one file (or several) and return ``{(rule_id, line)}`` of the findings."""

    def run(source: str, name: str = "app.py", **others: str) -> set[tuple[str, int]]:
        files = {name: source, **{k.replace("__", "."): v for k, v in others.items()}}
        report = report_for(files)
        return {(f.rule_id, f.line) for f in report.findings if f.path.endswith(name)}

    return run
