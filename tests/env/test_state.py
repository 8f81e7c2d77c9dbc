"""The environment state table: what it allows, and that nothing else is allowed."""

from __future__ import annotations

import itertools

import pytest

from keepwarm.env.state import TRANSITIONS, EnvState, IllegalTransition, check_transition

ALLOWED = {
    (EnvState.NEW, EnvState.INITIALIZING),
    (EnvState.NEW, EnvState.STOPPING),
    (EnvState.INITIALIZING, EnvState.IDLE),
    (EnvState.INITIALIZING, EnvState.BUSY),
    (EnvState.INITIALIZING, EnvState.RESET),
    (EnvState.INITIALIZING, EnvState.STOPPING),
    (EnvState.IDLE, EnvState.BUSY),
    (EnvState.IDLE, EnvState.RESET),
    (EnvState.IDLE, EnvState.STOPPING),
    (EnvState.BUSY, EnvState.IDLE),
    (EnvState.BUSY, EnvState.RESET),
    (EnvState.BUSY, EnvState.STOPPING),
    (EnvState.RESET, EnvState.INITIALIZING),
    (EnvState.RESET, EnvState.STOPPING),
    (EnvState.STOPPING, EnvState.DEAD),
}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(EnvState, EnvState)))
def test_transition_table(a: EnvState, b: EnvState) -> None:
    if (a, b) in ALLOWED:
        check_transition(a, b)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(a, b)


def test_dead_is_final_and_every_state_can_stop() -> None:
    assert TRANSITIONS[EnvState.DEAD] == frozenset()
    for state in EnvState:
        if state not in (EnvState.STOPPING, EnvState.DEAD):
            assert EnvState.STOPPING in TRANSITIONS[state]
