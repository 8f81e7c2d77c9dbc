"""``keepwarm audit``: static reuse-safety audit of handler code.

Exposed as ``register(app)`` so the main CLI owns the Typer app; the dynamic options
(``--replay``, ``-f``, ``-t``) are added to this same command later.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from keepwarm.audit import AuditUsageError, Severity, audit_paths
from keepwarm.audit.static.render import FORMATS, render

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def audit(
    paths: Annotated[list[Path], typer.Argument(help="Handler files or code directories.")],
    output_format: Annotated[
        str, typer.Option("--format", help="Output format: text, json or sarif.")
    ] = "text",
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="Exit 1 on findings at/above: warning or error.")
    ] = "error",
) -> None:
    """Find request data that outlives its invocation when Lambda reuses an environment."""
    if output_format not in FORMATS:
        _usage(f"unknown --format {output_format!r} (expected one of: {', '.join(FORMATS)})")
    if fail_on not in ("warning", "error"):
        _usage(f"unknown --fail-on {fail_on!r} (expected: warning or error)")
    try:
        report = audit_paths(paths)
    except AuditUsageError as exc:
        _usage(str(exc))
    sys.stdout.write(render(report, output_format))
    raise typer.Exit(EXIT_FINDINGS if report.fails(Severity.parse(fail_on)) else EXIT_OK)


def _usage(message: str) -> None:
    typer.echo(f"keepwarm audit: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to ``app``."""
    app.command("audit")(audit)
