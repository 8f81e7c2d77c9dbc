"""Durations (a handler's, an Init's) as a fixed time or a seeded distribution, and the text
forms the command line takes for them and for lengths of time.

Why few shapes: a fixed time, an exponential, a uniform range and a log-normal cover what the
REPORT lines of real functions look like closely enough for warm/cold prediction; a trace with
measured durations covers the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from keepwarm.clock import TIME_UNITS
from keepwarm.errors import SimulationInputError

_TIME = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)?")
SHAPES = "SECONDS, exp:MEAN, uniform:LOW:HIGH or lognormal:MEDIAN:SIGMA"


def parse_time(text: str) -> float:
    """Seconds from ``1.5``, ``120ms``, ``90s``, ``10m``, ``2h``, ``1d`` or ``1w``."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise SimulationInputError(
            f"{text!r} is not a time: a number of seconds, or a number and one unit of "
            "ms, s, m, h, d or w (e.g. 120ms, 10m)"
        )
    return float(match[1]) * TIME_UNITS[match[2] or "s"]


@dataclass(frozen=True)
class Dist:
    """A duration in seconds: ``fixed``, ``exp`` (mean ``a``), ``uniform`` (``a`` to ``b``) or
    ``lognormal`` (median ``a``, shape ``b``: the standard deviation of its logarithm)."""

    shape: str
    a: float
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.shape not in ("fixed", "exp", "uniform", "lognormal"):
            raise SimulationInputError(f"unknown distribution {self.shape!r} (use {SHAPES})")
        if not (math.isfinite(self.a) and math.isfinite(self.b) and self.a >= 0 and self.b >= 0):
            raise SimulationInputError(f"{self.text()}: times must be finite and 0 or more")
        if self.shape in ("exp", "lognormal") and self.a == 0:
            raise SimulationInputError(f"{self.text()}: the mean or median must be above 0")
        if self.shape == "uniform" and self.b < self.a:
            raise SimulationInputError(f"{self.text()}: LOW must not exceed HIGH")

    @classmethod
    def fixed(cls, seconds: float) -> Dist:
        return cls("fixed", seconds)

    @classmethod
    def parse(cls, text: str) -> Dist:
        """``0.1``, ``120ms``, ``exp:100ms``, ``uniform:50ms:150ms``, ``lognormal:80ms:0.5``."""
        shape, *args = text.strip().split(":")
        if not args:
            return cls.fixed(parse_time(shape))
        arity = {"exp": 1, "uniform": 2, "lognormal": 2}.get(shape)
        if arity is None or len(args) != arity:
            raise SimulationInputError(f"{text!r} is not a duration: use {SHAPES}")
        if shape == "lognormal":
            return cls(shape, parse_time(args[0]), _number(args[1], text))
        return cls(shape, *(parse_time(a) for a in args))

    def sampler(self, rng: Random) -> Callable[[], float]:
        """Draws from ``rng``; a fixed time draws nothing (so it leaves other draws as they are)."""
        a, b = self.a, self.b
        if self.shape == "exp":
            rate = 1.0 / a
            return lambda: rng.expovariate(rate)
        if self.shape == "uniform":
            return lambda: rng.uniform(a, b)
        if self.shape == "lognormal":
            mu = math.log(a)
            return lambda: rng.lognormvariate(mu, b)
        return lambda: a

    def text(self) -> str:
        """The form ``parse`` reads (times in seconds)."""
        if self.shape == "fixed":
            return f"{self.a:g}s"
        if self.shape == "exp":
            return f"exp:{self.a:g}s"
        if self.shape == "uniform":
            return f"uniform:{self.a:g}s:{self.b:g}s"
        return f"lognormal:{self.a:g}s:{self.b:g}"


def _number(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SimulationInputError(f"{whole!r}: {text!r} is not a number") from None
    return value
