"""Scheduling decisions as pure functions over frozen snapshots.

Why pure: they are tested by tables, and the simulator replays traffic through these very
functions, so its predictions cannot drift from what the runtime does. Each decision is O(1) in
the number of environments: the pool hands over only the few facts a decision needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from keepwarm.errors import Throttled


class Action(StrEnum):
    WARM = "warm"  # reuse an idle environment
    RESET = "reset"  # reuse an environment whose process was reset (Init runs again)
    COLD = "cold"  # create a new environment
    THROTTLE = "throttle"


class Placement(NamedTuple):
    action: Action
    env_id: str | None = None
    reason: str | None = None


class Snapshot(NamedTuple):
    """What one placement decision needs to know.

    Immutable tuples rather than frozen dataclasses: both are built on every invocation, and a
    frozen dataclass sets each field through ``object.__setattr__`` (three times slower).
    """

    idle_provisioned: str | None
    idle_mru: str | None
    reset_mru: str | None
    function_inflight: int
    reserved: int | None
    account_inflight: int
    account_limit: int
    unreserved_inflight: int
    reserved_total: int


def place(s: Snapshot) -> Placement:
    """Where an invocation goes: the most recently used idle environment, else a cold start,
    unless a concurrency limit says no (with Lambda's throttle reason)."""
    if s.reserved is not None and s.function_inflight >= s.reserved:
        return Placement(Action.THROTTLE, reason=Throttled.RESERVED)
    if s.reserved is None and s.unreserved_inflight >= s.account_limit - s.reserved_total:
        return Placement(Action.THROTTLE, reason=Throttled.ACCOUNT)
    if s.account_inflight >= s.account_limit:
        return Placement(Action.THROTTLE, reason=Throttled.ACCOUNT)
    if s.idle_provisioned is not None:
        return Placement(Action.WARM, s.idle_provisioned)
    if s.idle_mru is not None:
        return Placement(Action.WARM, s.idle_mru)
    if s.reset_mru is not None:
        return Placement(Action.RESET, s.reset_mru)
    return Placement(Action.COLD)


@dataclass(frozen=True)
class EnvView:
    """An environment as the reclaim decision sees it."""

    env_id: str
    idle: bool
    provisioned: bool
    created: float
    last_used: float
    invocations: int


@dataclass(frozen=True)
class KeepAlivePolicy:
    """When idle environments are reclaimed (Lambda does not publish its figures)."""

    keep_alive_s: float = 600.0
    max_lifetime_s: float = 7200.0


def expired(env: EnvView, now: float, policy: KeepAlivePolicy) -> bool:
    """Idle too long (on-demand only) or alive too long (any idle environment)."""
    if not env.idle:
        return False
    if now - env.created >= policy.max_lifetime_s:
        return True
    return not env.provisioned and now - env.last_used >= policy.keep_alive_s


def choose_reclaim(envs: list[EnvView], now: float, policy: KeepAlivePolicy) -> list[str]:
    return [e.env_id for e in envs if expired(e, now, policy)]


def reuse_allowed(mode: str, coin: float) -> bool:
    """Reuse chaos: 'always', 'never', or 'random:P' (reuse with probability P)."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return coin < float(mode.split(":", 1)[1])


def should_retire(invocations: int, max_invocations: int | None, mode: str, coin: float) -> bool:
    """After an invocation: keep this environment for reuse, or shut it down now."""
    if max_invocations is not None and invocations >= max_invocations:
        return True
    return not reuse_allowed(mode, coin)
