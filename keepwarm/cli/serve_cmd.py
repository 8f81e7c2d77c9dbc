"""``keepwarm serve`` (AWS Lambda's HTTP API) and ``keepwarm events`` (the async queue).

Exposed as ``register(app)`` so the main CLI owns the Typer app.
"""

from __future__ import annotations

import datetime
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any

import simplejson  # type: ignore[import-untyped,unused-ignore]
import typer
from simplejson.raw_json import RawJSON  # type: ignore[import-untyped,unused-ignore]

from keepwarm.cli.options import HostPackages, check_data_dir, scale, seconds
from keepwarm.cli.parameter_overrides import ParameterOverrides, TemplateCommand, merged, refuse

EXIT_USAGE = 2


def _check_backend(backend: str, ray_address: str | None) -> None:
    import importlib.util

    if backend not in ("local", "ray"):
        raise typer.BadParameter(f"must be local or ray, not {backend!r}", param_hint="'--backend'")
    if ray_address is not None and backend != "ray":
        raise typer.BadParameter("needs --backend ray", param_hint="'--ray-address'")
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise typer.BadParameter(
            "ray needs Ray on this machine: pip install 'keepwarm[ray]'", param_hint="'--backend'"
        )


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0 = any free port).")
    ] = 9001,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Functions, code, logs and the event queue.")
    ] = Path(".keepwarm"),
    template: Annotated[
        Path | None, typer.Option("-t", "--template", help="SAM template with functions to serve.")
    ] = None,
    parameter_overrides: ParameterOverrides = None,
    keep_alive: Annotated[
        float | None,
        typer.Option(
            "--keep-alive", callback=seconds, help="Idle seconds before an environment stops."
        ),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Reload template functions when their code changes.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback address without auth.")
    ] = False,
    auth: Annotated[
        str, typer.Option("--auth", help="none, or sigv4: require AWS Signature V4 requests.")
    ] = "none",
    credentials: Annotated[
        Path | None,
        typer.Option("--credentials", help="INI file of access keys (like ~/.aws/credentials)."),
    ] = None,
    async_time_scale: Annotated[
        float | None,
        typer.Option(
            "--async-time-scale",
            callback=scale,
            help="Multiply async retry delays, backoff and event age (tests: 0.001).",
        ),
    ] = None,
    async_concurrency: Annotated[
        int,
        typer.Option(
            "--async-concurrency",
            min=1,
            help="Async events run at once, shared fairly between functions.",
        ),
    ] = 64,
    activation_delay: Annotated[
        float,
        typer.Option(
            "--activation-delay", callback=seconds, help="Seconds a new function stays Pending."
        ),
    ] = 0.0,
    shutdown_timeout: Annotated[
        float,
        typer.Option(
            "--shutdown-timeout", callback=seconds, help="Seconds in-flight requests get to finish."
        ),
    ] = 30.0,
    check_leaks: Annotated[
        bool, typer.Option("--check-leaks", help="Report request data left behind (LEAK lines).")
    ] = False,
    reuse: Annotated[
        str, typer.Option("--reuse", help="Reuse chaos: always, never or random:P.")
    ] = "always",
    max_invocations_per_env: Annotated[
        int | None,
        typer.Option("--max-invocations-per-env", min=1, help="Retire environments after N."),
    ] = None,
    host_packages: HostPackages = False,
    backend: Annotated[
        str,
        typer.Option(
            "--backend", help="Where environments run: local, or ray (the Ray cluster's machines)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="The Ray cluster to join (e.g. auto, or ray://head:10001); "
            "without it, a Ray instance of its own on this machine.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "warning",
) -> None:
    """Serve AWS Lambda's API (Invoke, functions, versions, aliases, async events)."""
    from keepwarm.lambda_api.backend import ServeOptions
    from keepwarm.lambda_api.data_lock import DataDirInUse
    from keepwarm.lambda_api.endpoint import url_host
    from keepwarm.lambda_api.server import BindRefused, StartupRefused
    from keepwarm.lambda_api.server import serve as run

    if log_level.lower() not in LOG_LEVELS:
        typer.echo(f"keepwarm: --log-level must be one of {', '.join(LOG_LEVELS)}.", err=True)
        raise typer.Exit(EXIT_USAGE)
    if template is None and parameter_overrides is not None:
        refuse("needs -t/--template: there are no template Parameters to override")
    parameters = merged(parameter_overrides)
    _check_backend(backend, ray_address)
    _preflight(data_dir, template, parameters)
    options = ServeOptions(
        data_dir=data_dir,
        template=template,
        parameters=parameters,
        keep_alive_s=keep_alive,
        watch=watch,
        host=host,
        port=port,
        insecure=insecure,
        auth=auth,
        credentials=credentials,
        activation_delay_s=activation_delay,
        async_time_scale=async_time_scale,
        async_concurrency=async_concurrency,
        shutdown_timeout_s=shutdown_timeout,
        check_leaks=check_leaks,
        reuse=reuse,
        max_invocations_per_env=max_invocations_per_env,
        host_packages=host_packages,
        backend=backend,
        ray_address=ray_address,
    )
    try:
        run(options, log_level=log_level.lower())
    except BindRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except (DataDirInUse, StartupRefused) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        where = f"{url_host(host)}:{port}"
        typer.echo(f"keepwarm: cannot listen on {where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _preflight(data_dir: Path, template: Path | None, parameters: dict[str, str]) -> None:
    """What fails inside uvicorn's startup is a traceback and "startup failed" (exit 3), so the
    data directory and the template are tried first, where failing is one line and exit 2.
    Only the template as a whole can fail here: a function that cannot run is served as
    Failed, and the server says why when it starts."""
    from keepwarm.template import read_template

    check_data_dir(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if template is not None:
        read_template(template, parameters=parameters, keep_broken=True)


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def events(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path(".keepwarm"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List queued async events and the local dead-letter store."""
    path = data_dir / "events.db"
    if not path.exists():
        typer.echo(f"keepwarm: no event store in {data_dir}", err=True)
        raise typer.Exit(1)
    queued, dead = _read_store(path)
    if as_json:
        letters = [{**d, "body": RawJSON(d["body"])} for d in dead]  # embedded as stored
        sys.stdout.write(simplejson.dumps({"queued": queued, "dead_letters": letters}, indent=2))
        sys.stdout.write("\n")
        return
    typer.echo(f"queued: {len(queued)}")
    for e in queued:
        typer.echo(f"  {e['id']}  {e['function']}  {e['state']}  attempts={e['attempts']}")
    typer.echo(f"dead letters: {len(dead)}")
    for d in dead:
        typer.echo(
            f"  #{d['seq']}  {_when(d['created'])}  {d['function']} -> {d['target']}  "
            f"{d['kind']}  {d['condition']}  request {d['event_id']}"
        )


def _read_store(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """SQLite's own messages ("file is not a database") do not say which file."""
    from keepwarm.asyncq.store import read_store
    from keepwarm.errors import KeepwarmError

    try:
        return read_store(path)
    except sqlite3.Error as exc:
        raise KeepwarmError(f"cannot read the event store {path}: {exc}") from exc


def register(app: typer.Typer) -> None:
    app.command(cls=TemplateCommand)(serve)
    app.command()(events)


if __name__ == "__main__":
    from keepwarm.cli.failures import KeepwarmGroup

    _app = typer.Typer(cls=KeepwarmGroup, add_completion=False, pretty_exceptions_enable=False)
    register(_app)
    _app()
