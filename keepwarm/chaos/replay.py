"""Reuse-chaos replay: the same events under several environment-reuse patterns, compared.

Why: a handler that is correct on Lambda returns the same answer for an event whether it lands
in a fresh environment, in one that served every earlier event, or in one of several warm
environments picked at random. Any event whose result depends on the pattern is a reuse bug
(or a field that legitimately varies, which ``ignore`` removes before comparing).

Patterns (each in its own runtime, so they share nothing):
  - ``cold``: reuse never, every event gets a fresh environment (the reference);
  - ``warm``: one environment serves every event in order;
  - ``shuffled``: N lanes, each one warm environment, events assigned at random (seeded); the
    lanes run concurrently, each in event order, so the outcome is deterministic for a seed.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm.api import AsyncRuntime, encode_event
from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.env.base import Environment
from keepwarm.env.state import EnvState
from keepwarm.invocation import Invocation, InvocationResult
from keepwarm.pool.pool import FunctionPool
from keepwarm.pool.scheduler import Action, Placement

from .paths import drop_fields, parse_path

REFERENCE = "cold"


@dataclass(frozen=True)
class EventDiff:
    """One event whose normalised outcome is not the same under every pattern."""

    index: int
    outcomes: dict[str, Any]
    diffs: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.index, "outcomes": self.outcomes, "diffs": self.diffs}


@dataclass
class ReplayReport:
    function: str
    events: int
    patterns: list[str]
    lanes: int
    seed: int
    differing: list[EventDiff] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differing

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "events": self.events,
            "patterns": self.patterns,
            "lanes": self.lanes,
            "seed": self.seed,
            "differing": [d.to_dict() for d in self.differing],
        }


def read_events(path: Path) -> list[Any]:
    """One JSON event per non-blank line; ``ValueError`` names the bad line."""
    events = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON: {exc}") from exc
    return events


def outcome(result: InvocationResult, ignore: Sequence[str]) -> Any:
    """What a caller sees, minus what legitimately varies (request ids, ignored fields)."""
    try:
        payload: Any = json.loads(result.payload) if result.payload else None
    except ValueError:
        payload = result.payload.decode("utf-8", "replace")
    if result.function_error is not None:
        if isinstance(payload, dict):
            payload.pop("requestId", None)
        payload = {"FunctionError": result.function_error, "Payload": payload}
    for spec in ignore:
        payload = drop_fields(payload, parse_path(spec))
    return payload


def pretty(value: Any) -> list[str]:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return [line + "\n" for line in text.splitlines()]


def compare(outcomes: dict[str, list[Any]], events: int) -> list[EventDiff]:
    """Events whose outcome differs from the reference pattern, with a unified diff each."""
    found = []
    for i in range(events):
        per = {name: results[i] for name, results in outcomes.items()}
        ref = per[REFERENCE]
        diffs = {
            name: "".join(
                difflib.unified_diff(
                    pretty(ref),
                    pretty(value),
                    f"event {i + 1} ({REFERENCE})",
                    f"event {i + 1} ({name})",
                )
            )
            for name, value in per.items()
            if name != REFERENCE and value != ref
        }
        if diffs:
            found.append(EventDiff(i + 1, per, diffs))
    return found


async def _invoke_on(
    rt: AsyncRuntime, pool: FunctionPool, env: Environment, event: Any
) -> tuple[InvocationResult, Environment]:
    """Invoke ``event`` on this lane's environment (a new one if it was shut down)."""
    if env.state in (EnvState.STOPPING, EnvState.DEAD):
        env = pool.take(Placement(Action.COLD))
    inv = Invocation(encode_event(event), invoked_arn=rt.server.function_arn(pool.config.name))
    return await pool.run(env, inv), env


async def _shuffled(
    rt: AsyncRuntime, name: str, events: list[Any], lanes: int, seed: int
) -> list[InvocationResult]:
    rng = random.Random(seed)
    assignment = [rng.randrange(lanes) for _ in events]
    pool = rt.pool(name)
    results: list[InvocationResult | None] = [None] * len(events)

    async def lane(number: int) -> None:
        env = pool.take(Placement(Action.COLD))
        for i, event in enumerate(events):
            if assignment[i] == number:
                results[i], env = await _invoke_on(rt, pool, env, event)

    await asyncio.gather(*(lane(n) for n in range(lanes)))
    return [r for r in results if r is not None]


async def _pattern(
    pattern: str, config: FunctionConfig, events: list[Any], lanes: int, seed: int, data: Path
) -> list[InvocationResult]:
    reuse = "never" if pattern == "cold" else "always"
    fn = config.with_changes(reuse=reuse, max_invocations_per_env=None, provisioned_concurrency=0)
    server = ServerConfig(data_dir=data / pattern)
    async with AsyncRuntime([fn], server=server) as rt:
        if pattern == "shuffled":
            return await _shuffled(rt, fn.name, events, lanes, seed)
        return [await rt.invoke(fn.name, event) for event in events]


async def replay_async(
    config: FunctionConfig,
    events: list[Any],
    *,
    lanes: int = 3,
    seed: int = 0,
    ignore: Sequence[str] = (),
    data_dir: Path | None = None,
) -> ReplayReport:
    """Run ``events`` under every pattern and report the events whose outcome differs."""
    for spec in ignore:
        parse_path(spec)
    patterns = [REFERENCE, "warm", "shuffled"]
    with tempfile.TemporaryDirectory(prefix="keepwarm-replay-") as scratch:
        root = data_dir or Path(scratch)
        outcomes = {
            p: [outcome(r, ignore) for r in await _pattern(p, config, events, lanes, seed, root)]
            for p in patterns
        }
    report = ReplayReport(config.name, len(events), patterns, lanes, seed)
    report.differing = compare(outcomes, len(events))
    return report


def replay(config: FunctionConfig, events: list[Any], **options: Any) -> ReplayReport:
    """Blocking ``replay_async`` (for the CLI and scripts; not from inside an event loop)."""
    return asyncio.run(replay_async(config, events, **options))


def render_text(report: ReplayReport) -> str:
    head = (
        f"keepwarm replay: {report.function}, {report.events} events; patterns: "
        f"cold (a fresh environment per event), warm (one environment, in order), "
        f"shuffled ({report.lanes} warm environments, random assignment, seed {report.seed})\n"
    )
    body = []
    for diff in report.differing:
        body.append(f"\nevent {diff.index}: result depends on environment reuse\n")
        body.extend(text if text.endswith("\n") else text + "\n" for text in diff.diffs.values())
    n = len(report.differing)
    tail = (
        f"\n{n} of {report.events} events depend on environment reuse.\n"
        if n
        else f"\nall {report.events} events gave the same result under every pattern.\n"
    )
    return head + "".join(body) + tail
