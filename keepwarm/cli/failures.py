"""The one place where an error a user can cause becomes ``keepwarm: <message>`` and exit 2.

Why central: every command reads files, templates, databases and option values, and they all fail
in the same few ways; a traceback for a missing file reads like a bug in keepwarm. What is *not*
listed in ``EXPECTED`` is a bug, so it keeps its traceback.

Why plain ``typer.echo``: the message carries user text (paths, names, Lambda's own constraint
texts such as ``[a-zA-Z]+``) that Rich markup would eat or choke on, and one unwrapped line is
what scripts grep for.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import typer
from typer.core import TyperGroup

from keepwarm.errors import KeepwarmError

EXIT_USAGE = 2
EXPECTED: tuple[type[Exception], ...] = (
    KeepwarmError,
    OSError,
    UnicodeDecodeError,
    sqlite3.Error,
)


def describe(exc: Exception) -> str:
    """``strerror: path`` for file errors, which ``str()`` would show as ``[Errno 2] ...: 'p'``."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


class KeepwarmGroup(TyperGroup):
    """The ``keepwarm`` command group; every command runs inside its error mapping."""

    def invoke(self, ctx: Any) -> Any:  # Any: the Context class depends on the Typer version
        try:
            return super().invoke(ctx)
        except EXPECTED as exc:
            if isinstance(exc, BrokenPipeError):  # a closed pipe (``| head``): Typer's case
                raise
            typer.echo(f"keepwarm: {describe(exc)}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
