"""``keepwarm invoke``: run a function from a template, like ``sam local invoke``, but reused.

Unlike ``sam local invoke``, ``--times`` and ``--concurrency`` run in one set of environments,
so warm reuse and concurrency are visible in the output.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from keepwarm._cfn import template_file
from keepwarm.api import AsyncRuntime
from keepwarm.cli import credentials
from keepwarm.cli.options import HostPackages, check_data_dir
from keepwarm.cli.parameter_overrides import ParameterOverrides, merged
from keepwarm.config import ServerConfig
from keepwarm.invocation import InvocationResult
from keepwarm.sigv4 import Signer
from keepwarm.template import read_template

from .render import show


def read_event(event_file: Path | None, payload: str | None) -> Any:
    if event_file is not None and payload is not None:
        raise typer.BadParameter("give either --event or --payload, not both")
    if event_file is not None:
        text = sys.stdin.read() if str(event_file) == "-" else _read_text(event_file)
    else:
        text = payload if payload is not None else "{}"
    try:
        return json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"the event is not valid JSON: {exc}") from exc


def _read_text(event_file: Path) -> str:
    """Errors name the file: Python's decoding error names only a byte position.

    Why not Typer's ``exists=True``: on a ``Path`` option Typer 0.29 then refuses '-' (stdin).
    """
    try:
        return event_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(
            f"the event file {event_file} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise typer.BadParameter(f"cannot read the event file {event_file}: {reason}") from exc


async def run_local(
    template: Path,
    name: str,
    event: Any,
    times: int,
    concurrency: int,
    server: ServerConfig,
    parameters: dict[str, str] | None = None,
) -> list[InvocationResult]:
    loaded = read_template(template_file(template), parameters=parameters, keep_broken=True)
    name = loaded.usable(name).name_for(name)
    results: list[InvocationResult] = []
    async with AsyncRuntime(loaded.functions, server=server) as rt:
        for _ in range(times):
            batch = await asyncio.gather(*(rt.invoke(name, event) for _ in range(concurrency)))
            results.extend(batch)
    return results


def invoke(
    function: Annotated[str, typer.Argument(help="Function name (logical id or FunctionName).")],
    template: Annotated[Path, typer.Option("-t", "--template", help="SAM template.")] = Path(
        "template.yaml"
    ),
    parameter_overrides: ParameterOverrides = None,
    event: Annotated[
        Path | None, typer.Option("-e", "--event", help="Event JSON file ('-' for stdin).")
    ] = None,
    payload: Annotated[str | None, typer.Option("--payload", help="Event as JSON text.")] = None,
    times: Annotated[int, typer.Option("--times", min=1, help="Sequential rounds.")] = 1,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Concurrent calls per round.")
    ] = 1,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Logs and state.")] = Path(
        ".keepwarm"
    ),
    reuse: Annotated[
        str, typer.Option("--reuse", help="Reuse chaos: always, never or random:P.")
    ] = "always",
    max_invocations_per_env: Annotated[
        int | None, typer.Option("--max-invocations-per-env", min=1)
    ] = None,
    check_leaks: Annotated[
        bool, typer.Option("--check-leaks", help="Report request data left behind.")
    ] = False,
    host_packages: HostPackages = False,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Invoke through a running keepwarm serve.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="With --endpoint: sign with this AWS profile's keys."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="With --endpoint: the region to sign for.")
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No log lines: one status line and the payload per result."
        ),
    ] = False,
) -> None:
    """Invoke a function and print each result with its log lines (cold/warm shown)."""
    console = Console()
    body = read_event(event, payload)
    if endpoint is not None:
        _local_only(
            reuse != "always",
            max_invocations_per_env,
            check_leaks,
            concurrency > 1,
            host_packages,
            parameter_overrides is not None,
        )
        signer = credentials.signer(profile, region, os.environ)
        raise SystemExit(_remote(console, endpoint, function, body, times, quiet, signer))
    if profile is not None or region is not None:
        raise typer.BadParameter("--profile and --region apply with --endpoint only")
    check_data_dir(data_dir)
    server = ServerConfig(
        data_dir=data_dir,
        reuse=reuse,
        max_invocations_per_env=max_invocations_per_env,
        check_leaks=check_leaks,
        host_packages=host_packages,
    )
    parameters = merged(parameter_overrides)
    results = asyncio.run(
        run_local(template, function, body, times, concurrency, server, parameters)
    )
    for result in results:
        show(console, result, logs=not quiet)
    raise SystemExit(1 if any(r.function_error for r in results) else 0)


def _local_only(
    reuse: bool,
    max_invocations: int | None,
    leaks: bool,
    concurrent: bool,
    host: bool,
    parameters: bool,
) -> None:
    """Options a remote server decides for itself (``keepwarm serve --check-leaks`` ...): given
    with ``--endpoint`` they would be silently ignored, so they are refused."""
    given = [
        name
        for name, set_ in (
            ("--reuse", reuse),
            ("--max-invocations-per-env", max_invocations is not None),
            ("--check-leaks", leaks),
            ("--concurrency", concurrent),
            ("--host-packages", host),
            ("--parameter-overrides", parameters),
        )
        if set_
    ]
    if given:
        named = given[0] if len(given) == 1 else f"{', '.join(given[:-1])} and {given[-1]}"
        raise typer.BadParameter(
            f"{named} {'applies' if len(given) == 1 else 'apply'} to local runs only; with "
            "--endpoint the server's own settings apply (give them to keepwarm serve)"
        )


def _remote(
    console: Console,
    endpoint: str,
    name: str,
    event: Any,
    times: int,
    quiet: bool,
    signer: Signer | None,
) -> int:
    from keepwarm.cli.remote import invoke_remote

    failed = False
    for _ in range(times):
        answer = invoke_remote(endpoint, name, json.dumps(event).encode(), None, not quiet, signer)
        payload = answer["Payload"].decode(errors="replace")
        console.print_json(json.dumps({**answer, "Payload": payload}))
        failed = failed or bool(answer.get("FunctionError"))
    return 1 if failed else 0
