"""The states of an execution environment and the only transitions allowed between them.

    NEW ──▶ INITIALIZING ──▶ IDLE ◀──▶ BUSY
                 │   ▲         │        │
                 │   └── RESET ◀────────┘   (timeout, crash, init failure: process gone,
                 ▼         │                 /tmp kept; the next invoke re-runs Init)
              STOPPING ◀───┘  ──▶ DEAD

INITIALIZING → BUSY is the on-demand cold start: Init ran because an invocation was waiting.
"""

from __future__ import annotations

from enum import StrEnum


class EnvState(StrEnum):
    NEW = "new"
    INITIALIZING = "initializing"
    IDLE = "idle"
    BUSY = "busy"
    RESET = "reset"
    STOPPING = "stopping"
    DEAD = "dead"


TRANSITIONS: dict[EnvState, frozenset[EnvState]] = {
    EnvState.NEW: frozenset({EnvState.INITIALIZING, EnvState.STOPPING}),
    EnvState.INITIALIZING: frozenset(
        {EnvState.IDLE, EnvState.BUSY, EnvState.RESET, EnvState.STOPPING}
    ),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.RESET, EnvState.STOPPING}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.RESET, EnvState.STOPPING}),
    EnvState.RESET: frozenset({EnvState.INITIALIZING, EnvState.STOPPING}),
    EnvState.STOPPING: frozenset({EnvState.DEAD}),
    EnvState.DEAD: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A bug: some code tried a state change the table forbids."""


def check_transition(current: EnvState, target: EnvState) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"environment cannot go from {current.value} to {target.value}")
