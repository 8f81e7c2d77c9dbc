"""Option values refused while the command line is parsed, before anything starts.

Why here and not in the code they feed: click's ``FloatRange`` lets NaN through (every comparison
with NaN is false) and accepts infinity, which later turns into a sleep that never ends or an
``int()`` that raises; refusing them at parse time gives the usual usage error and exit 2.
"""

from __future__ import annotations

import errno
import math
import re
from pathlib import Path
from typing import Annotated

import typer

from keepwarm.clock import TIME_UNITS

HostPackages = Annotated[
    bool,
    typer.Option(
        "--host-packages",
        help="Let Python functions import the server's packages, not only Lambda's.",
    ),
]


def seconds(value: float | None) -> float | None:
    """A duration: finite and 0 or more (None: the option was not given)."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter("must be a finite number of seconds, 0 or more")
    return value


def scale(value: float | None) -> float | None:
    """A multiplier of durations: finite and above 0 (None: the option was not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter("must be a finite number above 0")
    return value


def duration(value: str) -> float:
    """A relative time as ``aws logs tail --since`` takes one: a number and one unit
    (``30s``, ``5m``, ``2h``, ``1d``, ``1w``), in seconds."""
    match = re.fullmatch(r"(\d+)([smhdw])", value.strip())
    if match is None:
        raise typer.BadParameter(
            f"{value!r} is not a number and one unit of s, m, h, d or w (e.g. 10m)"
        )
    return int(match[1]) * TIME_UNITS[match[2]]


def check_data_dir(path: Path) -> None:
    """An existing ``--data-dir`` that is not a directory: creating it would fail with only
    "File exists", which does not say what is wrong."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "--data-dir is not a directory", str(path))
