"""Traffic: when invocations arrive (and, from a trace, how long each ran).

Two sources: a Poisson process, seeded, with a rate that may change in steps (a profile of
segments, repeated); and a trace file of start times, as CSV or JSON lines.

Why no replay of keepwarm's own log streams: they hold no time per line (see
``keepwarm.observe.streams``), so they cannot say when an invocation started.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random

from keepwarm.clock import TIME_UNITS
from keepwarm.errors import SimulationInputError
from keepwarm.simulate.dist import parse_time

MAX_INVOCATIONS = 20_000_000  # ~ 1.6 GB of start times: far beyond what one run should hold
_RATE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:/(s|m|h|d))?")


@dataclass(frozen=True)
class Traffic:
    """Invocation start times in seconds from the start (ascending), and where a trace gave
    them, each invocation's handler duration (``None``: drawn from the function model).
    ``span_s``: how long the traffic lasts (None: until its last invocation ends)."""

    starts: Sequence[float]
    durations: Sequence[float | None] | None = None
    span_s: float | None = None

    def __post_init__(self) -> None:
        _check_starts(self.starts)
        if self.durations is not None:
            if len(self.durations) != len(self.starts):
                raise SimulationInputError("give one duration (or None) per start time")
            for d in self.durations:
                if d is not None and not (math.isfinite(d) and d >= 0):
                    raise SimulationInputError(f"duration {d!r} must be finite and 0 or more")


def _check_starts(starts: Sequence[float]) -> None:
    last = 0.0
    for t in starts:
        if not (math.isfinite(t) and t >= last):
            raise SimulationInputError(
                f"start time {t!r}: start times must be finite, 0 or more, and ascending"
            )
        last = t


@dataclass(frozen=True)
class Segment:
    """A constant Poisson rate (invocations per second) for ``length_s`` seconds (``None``:
    for the whole span)."""

    rate: float
    length_s: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise SimulationInputError(f"rate {self.rate!r} must be finite and 0 or more")
        if self.length_s is not None and not (math.isfinite(self.length_s) and self.length_s > 0):
            raise SimulationInputError(f"segment length {self.length_s!r} must be above 0")

    @classmethod
    def parse(cls, text: str) -> Segment:
        """``5/s``, ``300/m``, ``2/h``, ``100/d`` or ``5`` (per second), optionally with a
        length: ``20/s:10m``."""
        rate, _, length = text.strip().partition(":")
        match = _RATE.fullmatch(rate)
        if match is None:
            raise SimulationInputError(
                f"{text!r} is not a rate: a number per s, m, h or d (e.g. 5/s, 300/m), "
                "optionally :LENGTH (e.g. 20/s:10m)"
            )
        per_s = float(match[1]) / TIME_UNITS[match[2] or "s"]
        return cls(per_s, parse_time(length) if length else None)


def poisson(
    profile: float | Sequence[Segment], span_s: float | None = None, seed: int = 0
) -> Traffic:
    """Poisson arrivals: at one rate (per second) for ``span_s``, or through a profile of
    segments, repeated to fill ``span_s`` (once through when ``span_s`` is None).

    >>> traffic = poisson([Segment(20, 600), Segment(1, 3000)], span_s=86400, seed=1)
    >>> len(traffic.starts)  # 24 hours of a busy 10 minutes then a quiet 50
    358726
    """
    segments = [Segment(profile)] if isinstance(profile, int | float) else list(profile)
    span = _span(segments, span_s)
    period = sum(s.length_s or span for s in segments)
    expected = sum(s.rate * (s.length_s or span) for s in segments) * span / period
    if expected > MAX_INVOCATIONS:
        raise SimulationInputError(
            f"about {expected:,.0f} invocations: more than {MAX_INVOCATIONS:,} in one run; "
            "simulate a shorter span or a lower rate"
        )
    return Traffic(list(_arrivals(segments, span, Random(f"{seed}:arrivals"))), span_s=span)


def _span(segments: list[Segment], span_s: float | None) -> float:
    if not segments:
        raise SimulationInputError("give a rate")
    if len(segments) > 1 and any(s.length_s is None for s in segments):
        raise SimulationInputError(
            "in a profile of several rates each needs its length (e.g. 20/s:10m 1/s:50m)"
        )
    if span_s is not None:
        if not (math.isfinite(span_s) and span_s > 0):
            raise SimulationInputError(
                f"span {span_s!r} must be a finite number of seconds above 0"
            )
        return span_s
    if segments[0].length_s is None:
        raise SimulationInputError("give how long the traffic lasts (a span, e.g. --for 1h)")
    return sum(s.length_s or 0.0 for s in segments)


def _arrivals(segments: list[Segment], span: float, rng: Random) -> Iterator[float]:
    """A Poisson process is memoryless, so each segment starts its own draws at its start."""
    start = 0.0
    while start < span:
        for segment in segments:
            end = min(start + (segment.length_s or span), span)
            if segment.rate > 0:
                t = start + rng.expovariate(segment.rate)
                while t < end:
                    yield t
                    t += rng.expovariate(segment.rate)
            start = end
            if start >= span:
                return


def read_trace(path: Path) -> Traffic:
    """A trace file: one invocation per line, its start time in seconds from the start of the
    trace and optionally its handler duration in seconds, as CSV (``start,duration``, a header
    line naming the columns optional) or JSON lines (``{"start": 1.5, "duration": 0.12}``).
    Blank lines and lines starting with ``#`` are skipped; the lines may come in any order."""
    rows: list[tuple[float, float | None]] = []
    reader = None
    with path.open(encoding="utf-8") as file:
        for number, raw in enumerate(file, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if reader is None:
                reader = _JsonLines() if line.startswith("{") else _Csv()
            row = reader.row(line, f"{path} line {number}")
            if row is not None:
                rows.append(row)
    if not rows:
        raise SimulationInputError(f"{path}: no invocations in the trace")
    rows.sort(key=lambda r: r[0])
    durations = [d for _, d in rows]
    return Traffic(
        [s for s, _ in rows], durations if any(d is not None for d in durations) else None
    )


class _Csv:
    def __init__(self) -> None:
        self.columns: tuple[int, int | None] | None = None

    def row(self, line: str, where: str) -> tuple[float, float | None] | None:
        cells = [c.strip() for c in line.split(",")]
        if self.columns is None:
            self.columns = (0, 1)
            if not _is_number(cells[0]):
                self.columns = _header(cells, where)
                return None
        start_col, duration_col = self.columns
        if start_col >= len(cells):
            raise SimulationInputError(f"{where}: no start time")
        duration = None
        if duration_col is not None and duration_col < len(cells) and cells[duration_col]:
            duration = _seconds(cells[duration_col], where, "duration")
        return _seconds(cells[start_col], where, "start"), duration


def _header(cells: list[str], where: str) -> tuple[int, int | None]:
    names = [c.lower() for c in cells]
    if "start" not in names:
        raise SimulationInputError(
            f"{where}: {cells[0]!r} is neither a start time nor a header with a 'start' column"
        )
    return names.index("start"), names.index("duration") if "duration" in names else None


class _JsonLines:
    def row(self, line: str, where: str) -> tuple[float, float | None]:
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise SimulationInputError(f"{where}: not JSON ({exc})") from None
        if not isinstance(record, dict) or "start" not in record:
            raise SimulationInputError(f'{where}: expected an object with "start" (seconds)')
        duration = record.get("duration")
        return (
            _seconds(record["start"], where, "start", text=False),
            None if duration is None else _seconds(duration, where, "duration", text=False),
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _seconds(value: object, where: str, what: str, text: bool = True) -> float:
    """A finite number of seconds, 0 or more: a CSV cell's text, or a JSON number (not a
    string, not a boolean) when ``text`` is False."""
    number = float(value) if text and isinstance(value, str) and _is_number(value) else value
    if (
        not isinstance(number, int | float)
        or isinstance(number, bool)
        or not (math.isfinite(number) and number >= 0)
    ):
        raise SimulationInputError(
            f"{where}: {what} {value!r} is not a finite number of seconds, 0 or more"
        )
    return float(number)
