"""``keepwarm logs``: a function's log streams, as ``sam logs`` and ``aws logs tail`` show them.

Why from the files and not from a server: the streams are on disk whoever wrote them
(``keepwarm serve``, ``keepwarm invoke``, the Python API), and reading them needs nothing to run.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, BinaryIO, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from keepwarm.cli.options import duration
from keepwarm.cli.parameter_overrides import ParameterOverrides, TemplateCommand, merged, refuse
from keepwarm.config import check_function_name
from keepwarm.observe.logs import log_root
from keepwarm.observe.streams import LogGroup, Stream, Tail

POLL_S = 0.25  # how often --follow looks for new lines
STYLES = ("cyan", "magenta", "green", "yellow", "blue", "red")  # one per stream, in turn
EXIT_NO_LOGS = 1  # as ``keepwarm events`` without an event store: nothing was recorded there


def _version(value: str | None) -> str | None:
    """Stream names carry a version, never an alias: an alias would match nothing, silently."""
    if value is not None and not re.fullmatch(r"\$LATEST|[0-9]+", value):
        raise typer.BadParameter("must be $LATEST or a version number (not an alias)")
    return value


def logs(
    function: Annotated[
        str, typer.Argument(help="Function name (FunctionName; a logical id with -t).")
    ],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="The data dir the function ran with.")
    ] = Path(".keepwarm"),
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    since: Annotated[
        float | None,
        typer.Option(
            "--since",
            parser=duration,
            metavar="DURATION",
            help="Only streams written to in the last DURATION (30s, 5m, 2h, 1d, 1w).",
        ),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(
            "--filter", metavar="TEXT", help="Only lines containing TEXT (case-sensitive)."
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            callback=_version,
            metavar="VERSION",
            help="Only streams of this version ($LATEST or a number).",
        ),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option("-t", "--template", help="SAM template naming FUNCTION as a logical id."),
    ] = None,
    parameter_overrides: ParameterOverrides = None,
) -> None:
    """Print a function's log lines, each after its stream's name; -f follows new ones."""
    if template is None and parameter_overrides is not None:
        refuse("needs -t/--template: there are no template Parameters to override")
    name = function_name(function, template, merged(parameter_overrides))
    root = stream_dir(data_dir, name, resolved=template is not None)
    wanted = os.fsencode(text) if text is not None else None  # the bytes given, as grep takes them
    tail = Tail(LogGroup(root, version), text=wanted, since_s=since)
    show(tail, Printer(Console(), sys.stdout.buffer), follow)


def function_name(function: str, template: Path | None, parameters: dict[str, str]) -> str:
    """The FunctionName the streams are filed under: ``function`` itself, or the one a
    template gives the logical id ``function`` (read only; nothing starts)."""
    if template is not None:
        from keepwarm.template import read_template

        function = read_template(template, parameters=parameters, keep_broken=True).name_for(
            function
        )
    check_function_name(function)
    return function


def stream_dir(data_dir: Path, name: str, *, resolved: bool) -> Path:
    """The function's directory of streams; a missing one ends the command (exit 1), as on AWS,
    where the log group exists once the function has run. ``resolved``: a template was there
    to resolve a logical id."""
    if not data_dir.is_dir():
        _nothing(f"no data dir {data_dir} (give --data-dir the one the function ran with)")
    root = log_root(data_dir) / name
    if not root.is_dir():
        hint = "" if resolved else " (a template's logical id needs -t TEMPLATE)"
        _nothing(f"no logs of function {name} in {data_dir}: it has not run there yet{hint}")
    return root


def _nothing(message: str) -> NoReturn:
    typer.echo(f"keepwarm: {message}", err=True)
    raise typer.Exit(EXIT_NO_LOGS)


class Printer:
    """``<stream name> <line>``, the line's bytes as the function wrote them.

    In a terminal each stream's name has a color of its own, and a line holding carriage
    returns (Lambda's Python runtime joins a traceback's lines with ``\\r``) is shown as the
    lines it holds; piped, every log line stays one output line, unchanged.
    """

    def __init__(self, console: Console, out: BinaryIO) -> None:
        self._console = console
        self._out = out
        self._terminal = console.is_terminal
        self._prefixes: dict[str, bytes] = {}

    def write(self, lines: Iterable[tuple[Stream, bytes]]) -> None:
        for stream, line in lines:
            prefix = self._prefixes.get(stream.name) or self._prefix(stream.name)
            if self._terminal:
                line = line.rstrip(b"\r").replace(b"\r", b"\n" + prefix)
            self._out.write(prefix + line + b"\n")
        self._out.flush()

    def _prefix(self, name: str) -> bytes:
        style = STYLES[len(self._prefixes) % len(STYLES)]
        with self._console.capture() as captured:
            self._console.print(Text(name, style=style), end=" ", soft_wrap=True)
        prefix = self._prefixes[name] = captured.get().encode()
        return prefix


def show(tail: Tail, printer: Printer, follow: bool) -> None:
    """The streams on disk, then, with ``follow``, what is added every ``POLL_S`` until Ctrl-C,
    which ends the command quietly with status 0, as it stops ``keepwarm serve``."""
    try:
        printer.write(tail.backlog())
        while follow:
            time.sleep(POLL_S)
            printer.write(tail.poll())
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    app.command(cls=TemplateCommand)(logs)
