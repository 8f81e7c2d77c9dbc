"""``keepwarm audit``: static reuse-safety audit of handler code, and reuse-chaos replay.

Exposed as ``register(app)`` so the main CLI owns the Typer app. ``--replay`` runs a function,
so it needs the server: ``keepwarm.chaos`` is imported inside that branch only, which keeps
``python -m keepwarm.audit`` (the static audit) free of server imports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from keepwarm.audit import AuditUsageError, Severity, audit_paths
from keepwarm.audit.static.render import FORMATS, render
from keepwarm.cli.parameter_overrides import ParameterOverrides, TemplateCommand, merged

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def audit(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Handler files or code directories.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Output format: text, json or sarif.")
    ] = "text",
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="Exit 1 on findings at/above: warning or error.")
    ] = "error",
    replay_file: Annotated[
        Path | None,
        typer.Option("--replay", help="Replay these events (JSON lines) under reuse patterns."),
    ] = None,
    function: Annotated[
        str | None, typer.Option("-f", "--function", help="Function to replay (with --replay).")
    ] = None,
    template: Annotated[
        Path, typer.Option("-t", "--template", help="SAM template (with --replay).")
    ] = Path("template.yaml"),
    parameter_overrides: ParameterOverrides = None,
    lanes: Annotated[
        int, typer.Option("--lanes", min=1, help="Warm environments in the shuffled pattern.")
    ] = 3,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shuffled assignment.")] = 0,
    ignore_field: Annotated[
        list[str] | None,
        typer.Option("--ignore-field", help="Result field that may vary (repeatable)."),
    ] = None,
) -> None:
    """Find request data that outlives its invocation when Lambda reuses an environment."""
    if output_format not in FORMATS:
        _usage(f"unknown --format {output_format!r} (expected one of: {', '.join(FORMATS)})")
    if replay_file is not None:
        options = {"lanes": lanes, "seed": seed, "ignore": list(ignore_field or [])}
        _replay(
            replay_file, function, template, merged(parameter_overrides), output_format, options
        )
    if parameter_overrides is not None:
        _usage(
            "--parameter-overrides applies to --replay only (the static audit reads no template)"
        )
    if not paths:
        _usage("give handler files or directories to audit, or --replay EVENTS -f FUNCTION")
    if fail_on not in ("warning", "error"):
        _usage(f"unknown --fail-on {fail_on!r} (expected: warning or error)")
    try:
        report = audit_paths(paths)
    except AuditUsageError as exc:
        _usage(str(exc))
    sys.stdout.write(render(report, output_format))
    raise typer.Exit(EXIT_FINDINGS if report.fails(Severity.parse(fail_on)) else EXIT_OK)


def _replay(
    events_file: Path,
    function: str | None,
    template: Path,
    parameters: dict[str, str],
    output_format: str,
    options: dict[str, Any],
) -> NoReturn:
    if function is None:
        _usage("--replay needs -f/--function")
    if output_format == "sarif":
        _usage("--replay writes text or json, not sarif")
    from keepwarm.chaos.paths import parse_path
    from keepwarm.chaos.replay import read_events, render_text, replay
    from keepwarm.errors import KeepwarmError
    from keepwarm.template import read_template

    try:
        for spec in options["ignore"]:
            parse_path(spec)
        events = read_events(events_file)
        loaded = read_template(template, parameters=parameters, keep_broken=True)
        configs = {c.name: c for c in loaded.usable(function).functions}
    except OSError as exc:  # not Python's "[Errno 2] ..." form
        _usage(f"cannot read {exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    except (ValueError, KeepwarmError) as exc:
        _usage(str(exc))
    if function not in configs:
        _usage(f"no function {function!r} in {template} (found: {', '.join(sorted(configs))})")
    try:
        report = replay(configs[function], events, **options)
    except KeepwarmError as exc:
        typer.echo(f"keepwarm audit: replay failed: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    if output_format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _usage(message: str) -> NoReturn:
    typer.echo(f"keepwarm audit: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to ``app``."""
    app.command("audit", cls=TemplateCommand)(audit)
