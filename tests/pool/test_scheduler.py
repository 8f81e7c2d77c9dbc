"""The pure scheduling decisions, by tables (the pool and the simulator both apply them)."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from keepwarm.errors import Throttled
from keepwarm.pool import scheduler
from keepwarm.pool.scheduler import Action, EnvView, KeepAlivePolicy, Placement, Snapshot

POLICY = KeepAlivePolicy(keep_alive_s=600, max_lifetime_s=7200)


def snap(**kw: object) -> Snapshot:
    base: dict[str, object] = {
        "idle_provisioned": None,
        "idle_mru": None,
        "reset_mru": None,
        "function_inflight": 0,
        "reserved": None,
        "account_inflight": 0,
        "account_limit": 1000,
        "unreserved_inflight": 0,
        "reserved_total": 0,
    }
    return Snapshot(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("snapshot", "placement"),
    [
        (snap(), Placement(Action.COLD)),
        (snap(idle_mru="a"), Placement(Action.WARM, "a")),
        (snap(idle_mru="a", idle_provisioned="p"), Placement(Action.WARM, "p")),
        (snap(reset_mru="r"), Placement(Action.RESET, "r")),
        (snap(idle_mru="a", reset_mru="r"), Placement(Action.WARM, "a")),
        (
            snap(reserved=2, function_inflight=2, idle_mru="a"),
            Placement(Action.THROTTLE, reason=Throttled.RESERVED),
        ),
        (snap(reserved=0), Placement(Action.THROTTLE, reason=Throttled.RESERVED)),
        (
            snap(unreserved_inflight=900, reserved_total=100),
            Placement(Action.THROTTLE, reason=Throttled.ACCOUNT),
        ),
        (
            snap(reserved=50, reserved_total=50, account_inflight=1000),
            Placement(Action.THROTTLE, reason=Throttled.ACCOUNT),
        ),
    ],
)
def test_place(snapshot: Snapshot, placement: Placement) -> None:
    assert scheduler.place(snapshot) == placement


def view(
    idle: bool = True, provisioned: bool = False, created: float = 0, used: float = 0
) -> EnvView:
    return EnvView("e", idle, provisioned, created, used, 1)


@pytest.mark.parametrize(
    ("env", "expires", "expired_at"),
    [
        (view(used=100), 700, {699.9: False, 700: True}),
        (view(provisioned=True, used=100), 7200, {7199: False, 7200: True}),
        (view(created=0, used=7000), 7200, {7199: False, 7200: True}),  # lifetime first
        (view(idle=False, used=0), 600, {10_000: False}),  # busy: never expired
    ],
)
def test_expiry(env: EnvView, expires: float, expired_at: dict[float, bool]) -> None:
    assert scheduler.expires_at(env, POLICY) == expires
    for now, expected in expired_at.items():
        assert scheduler.expired(env, now, POLICY) is expected
    assert scheduler.choose_reclaim([env], max(expired_at), POLICY) == (
        ["e"] if expired_at[max(expired_at)] else []
    )


@pytest.mark.parametrize(
    ("keep_alive", "interval"), [(600, 1.0), (4, 1.0), (2, 0.5), (0.1, 0.05), (0, 0.05)]
)
def test_reap_interval(keep_alive: float, interval: float) -> None:
    assert scheduler.reap_interval(keep_alive) == interval


@pytest.mark.parametrize(
    ("when", "interval", "tick"),
    [
        (0, 1.0, 1.0),
        (0.5, 1.0, 1.0),
        (1.0, 1.0, 1.0),
        (1.01, 1.0, 2.0),
        (0.3, 0.1, 0.30000000000000004),
    ],
)
def test_next_tick_is_at_or_after(when: float, interval: float, tick: float) -> None:
    assert scheduler.next_tick(when, interval) == tick
    assert scheduler.next_tick(when, interval) >= when


def test_provisioned_missing_and_mru() -> None:
    assert [scheduler.provisioned_missing(2, alive) for alive in (0, 1, 2, 3)] == [2, 1, 0, 0]
    view_: OrderedDict[str, int] = OrderedDict()
    assert scheduler.mru(view_) is None
    view_["a"], view_["b"] = 1, 2
    view_.pop("a")
    view_["a"] = 1  # became idle again: now the most recently used
    assert scheduler.mru(view_) == "a"


@pytest.mark.parametrize(
    ("provisioned", "served", "now"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_reinit_now(provisioned: bool, served: bool, now: bool) -> None:
    """A provisioned environment that died runs Init again at once, unless it died without
    serving since its last Init; an on-demand one at its next call."""
    assert scheduler.reinit_now(provisioned, served) is now
