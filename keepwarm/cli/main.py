"""The ``keepwarm`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keepwarm import __version__
from keepwarm.cli import audit_cmd, invoke_cmd, logs_cmd, serve_cmd, simulate_cmd
from keepwarm.cli.failures import KeepwarmGroup
from keepwarm.cli.options import seconds
from keepwarm.cli.parameter_overrides import ParameterOverrides, TemplateCommand, merged

app = typer.Typer(
    cls=KeepwarmGroup,
    name="keepwarm",
    help="Run AWS-Lambda-style functions locally, with Lambda's environment reuse reproduced.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keepwarm {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """keepwarm: AWS-Lambda-style execution environments, reused like Lambda reuses them."""


app.command(cls=TemplateCommand)(invoke_cmd.invoke)


@app.command(cls=TemplateCommand)
def demo(
    template: Annotated[Path | None, typer.Option("-t", "--template")] = None,
    parameter_overrides: ParameterOverrides = None,
    keep_alive: Annotated[
        float,
        typer.Option("--keep-alive", callback=seconds, help="Idle seconds before reclaim."),
    ] = 1.0,
) -> None:
    """A short tour of warm reuse, caching, concurrency and idle reclaim on the examples."""
    from keepwarm.cli.demo import EXAMPLES, run_demo

    run_demo(template or EXAMPLES, keep_alive, merged(parameter_overrides))


audit_cmd.register(app)
serve_cmd.register(app)
logs_cmd.register(app)
simulate_cmd.register(app)

if __name__ == "__main__":
    app()
