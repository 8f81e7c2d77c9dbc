"""Entry point of the static audit: collect files under each given path, run the Python and
JavaScript analyses over them, drop suppressed findings and build the report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from keepwarm.audit.static.findings import AuditReport, Collector, Finding
from keepwarm.audit.static.javascript import JS_SUFFIXES, JavaScriptEngine, js_suppressions
from keepwarm.audit.static.pyengine import PythonEngine
from keepwarm.audit.static.pysource import read_python_source
from keepwarm.audit.static.suppress import is_suppressed, python_suppressions

_SKIP_DIRS = frozenset(
    {
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".git",
        ".aws-sam",
        "site-packages",
        ".keepwarm",
    }
)
_HANDLER_LINE = re.compile(r"^\s*Handler:\s*['\"]?([\w./@-]+)['\"]?\s*$", re.MULTILINE)
_TEMPLATES = ("template.yaml", "template.yml")


class AuditUsageError(ValueError):
    """A path that cannot be audited (missing, or not Python/JavaScript)."""


def audit_paths(paths: Iterable[str | os.PathLike[str]]) -> AuditReport:
    """Statically audit handler code under ``paths`` (files or code directories)."""
    roots = [_root_and_files(Path(p)) for p in paths]
    if not roots:
        raise AuditUsageError("no paths given")
    out = Collector()
    report = AuditReport()
    seen: set[Path] = set()
    for root, files in roots:
        files = [f for f in files if f.resolve() not in seen]
        seen.update(f.resolve() for f in files)
        display = {f.resolve(): _display(f) for f in _all_code(root)}
        templates = _template_handlers(root)
        py = [f for f in files if f.suffix == ".py"]
        js = [f for f in files if f.suffix in JS_SUFFIXES]
        PythonEngine(root.resolve(), display, templates, out).run(py)
        JavaScriptEngine(root.resolve(), display, templates, out).run(js)
        report.files.extend(_display(f) for f in files)
    kept, dropped = _apply_suppressions(out.findings())
    report.findings = kept
    report.suppressed = dropped
    return report


def _root_and_files(path: Path) -> tuple[Path, list[Path]]:
    if not path.exists():
        raise AuditUsageError(f"path does not exist: {path}")
    if path.is_dir():
        files = sorted(_all_code(path))
        if not files:
            raise AuditUsageError(f"no Python or JavaScript files under {path}")
        return path, files
    if path.suffix != ".py" and path.suffix not in JS_SUFFIXES:
        raise AuditUsageError(f"not a Python or JavaScript file: {path}")
    return path.parent, [path]


def _all_code(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath, name)
            if p.suffix == ".py" or p.suffix in JS_SUFFIXES:
                found.append(p)
    return found


def _display(path: Path) -> str:
    """Path as shown and as put in SARIF: relative to the working directory when possible."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _template_handlers(root: Path) -> dict[str, set[str]]:
    """Module stem -> handler function names, from SAM templates' ``Handler:`` lines.

    Read textually: the audit must not depend on YAML tooling and only needs this one key.
    """
    handlers: dict[str, set[str]] = {}
    candidates = [root.parent / name for name in _TEMPLATES]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        candidates += [Path(dirpath, n) for n in filenames if n in _TEMPLATES]
    for tpl in candidates:
        if tpl.is_file():
            for ref in _HANDLER_LINE.findall(tpl.read_text(encoding="utf-8", errors="replace")):
                module, _, func = ref.rpartition(".")
                if module and func:
                    handlers.setdefault(Path(module).name, set()).add(func)
    return handlers


def _apply_suppressions(findings: list[Finding]) -> tuple[list[Finding], int]:
    tables: dict[str, dict[int, set[str]]] = {}
    kept: list[Finding] = []
    for f in findings:
        if f.path not in tables:
            tables[f.path] = _suppressions_for(Path(f.path))
        if is_suppressed(tables[f.path], f.line, f.rule_id):
            continue
        kept.append(f)
    return kept, len(findings) - len(kept)


def _suppressions_for(path: Path) -> dict[int, set[str]]:
    """Suppression table for one reported file; empty if it cannot be read or decoded.

    Python files are decoded per their BOM / coding cookie like the analysis did, or the
    comments of a file that was analysed fine would silently stop suppressing.
    """
    try:
        if path.suffix in JS_SUFFIXES:  # as Node reads it: invalid bytes become U+FFFD
            return js_suppressions(path.read_text(encoding="utf-8", errors="replace"))
        return python_suppressions(read_python_source(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
