"""Scheduling decisions as pure functions over frozen snapshots.

Why pure: they are tested by tables, and the simulator replays traffic through these very
functions, so its predictions cannot drift from what the runtime does. Each decision is O(1) in
the number of environments: the pool hands over only the few facts a decision needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, TypeVar

from keepwarm.errors import Throttled

V = TypeVar("V")


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


class EnvView(NamedTuple):
    """An environment as the reclaim decision sees it (a tuple, as ``Snapshot``, for speed: the
    simulator builds one each time an environment goes idle)."""

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


def expires_at(env: EnvView, policy: KeepAlivePolicy) -> float:
    """From when an environment counts as expired while it stays idle: its max lifetime's end,
    or its keep-alive's end after its last use (on-demand only).

    Why a time rather than only ``expired``: the simulator jumps straight to the reaper's next
    tick that can find something to reclaim instead of running every tick of a day.
    """
    lifetime_end = env.created + policy.max_lifetime_s
    if env.provisioned:
        return lifetime_end
    return min(lifetime_end, env.last_used + policy.keep_alive_s)


def expired(env: EnvView, now: float, policy: KeepAlivePolicy) -> bool:
    """Idle too long (on-demand only) or alive too long (any idle environment)."""
    return env.idle and now >= expires_at(env, policy)


def choose_reclaim(envs: list[EnvView], now: float, policy: KeepAlivePolicy) -> list[str]:
    return [e.env_id for e in envs if expired(e, now, policy)]


def reap_interval(keep_alive_s: float) -> float:
    """How often the reaper looks for expired environments: a quarter of the keep-alive, within
    [50 ms, 1 s]. An environment is reclaimed at the first look after it expires, so until then
    an invocation still finds it warm; the simulator ticks on the same grid. A server's reaper
    takes the smallest keep-alive among its functions (``Router.reap_interval``), so that none
    of them waits longer than a quarter of its own."""
    return max(0.05, min(1.0, keep_alive_s / 4))


def next_tick(when: float, interval: float) -> float:
    """The first reaper tick at or after ``when``, ticks falling every ``interval`` from 0
    (the runtime's start). The real reaper sleeps until the tick after its last one, so a
    reclaim that takes longer than the interval skips ticks rather than shifting the grid."""
    k = max(math.ceil(when / interval), 1)
    return k * interval if k * interval >= when else (k + 1) * interval


def provisioned_missing(target: int, alive: int) -> int:
    """Provisioned environments to start so that ``target`` are alive, before traffic starts;
    afterwards each one that stops is replaced as it stops (retired, reclaimed)."""
    return max(target - alive, 0)


def reinit_now(provisioned: bool, served_since_init: bool) -> bool:
    """After an environment's process died (a timeout, a crash): run Init again now, in the
    background, or at its next invocation (inside that call's timeout, as Lambda does).

    Now for a provisioned one, so that provisioned concurrency stays at its level, as on Lambda;
    but not for one that died without serving since its last Init (a runtime that exits of its
    own accord would otherwise be started again for ever): that one waits, as an on-demand
    environment does.
    """
    return provisioned and served_since_init


def mru(view: dict[str, V]) -> str | None:
    """The most recently used environment of a view kept in the order environments became
    idle (the last one in): the one a warm start takes, so the least recently used ones age
    out through the keep-alive."""
    return next(reversed(view)) if view else None


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
