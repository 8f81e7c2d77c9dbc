"""The runtime's side of one environment as the Runtime API sees it: explicit states, default deny.

Why a table and not flags: the Runtime API is called by code we do not control (awslambdaric,
Node, any ``bootstrap``). Every (state, call) pair that is not listed in ``ALLOWED`` is refused
with Lambda's 403 ``InvalidStateTransition``, so no sequence of calls can leave the environment
in a state the server does not know about. The states are RIE's (``core/states.go``), with its
"Ready" split in two so that "waiting for an event" and "running an event" are distinct:

    STARTED ──next──▶ WAITING ──deliver──▶ INVOKING ──response/error──▶ ANSWERED
       │                   ▲                │  ▲                              │
       │                   └────────────────┼──┼────── next (invocation ends) ┘
       └──init/error──▶ INIT_FAILED         └──┘ next re-serves the same event (contract §2.4)

Only the owner (the server) calls ``deliver`` and ``close``; the other verbs are the runtime's.
The object never does I/O: it tells a ``Sink`` what happened and hands out ``Event``s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

from keepwarm.runtimes.event import Event

MAX_PAYLOAD = 6_291_556


class Sink(Protocol):
    """Who hears what the runtime said (keepwarm's ``LocalEnvironment`` through its channel)."""

    def runtime_next(self, report: dict[str, Any]) -> None: ...

    def runtime_response(self, request_id: str, body: bytes, content_type: str) -> None: ...

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def runtime_init_error(self, error_type: str | None, body: bytes) -> None: ...


class RState(StrEnum):
    """Value = the name RIE uses in its InvalidStateTransition message."""

    STARTED = "Started"
    INIT_FAILED = "InitError"
    WAITING = "Ready"
    INVOKING = "Invoking"
    ANSWERED = "ResponseSent"
    CLOSED = "Closed"


class Call(StrEnum):
    NEXT = "next"
    RESPONSE = "response"
    ERROR = "error"
    INIT_ERROR = "init_error"


ALLOWED: frozenset[tuple[RState, Call]] = frozenset(
    {
        (RState.STARTED, Call.NEXT),
        (RState.STARTED, Call.INIT_ERROR),
        (RState.WAITING, Call.NEXT),
        (RState.INVOKING, Call.NEXT),
        (RState.INVOKING, Call.RESPONSE),
        (RState.INVOKING, Call.ERROR),
        (RState.ANSWERED, Call.NEXT),
    }
)


class ApiError(Exception):
    """A refusal in Lambda's words: HTTP status plus the ``errorType``/``errorMessage`` body."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> bytes:
        return json.dumps({"errorMessage": self.message, "errorType": self.error_type}).encode()


def invalid_request_id() -> ApiError:
    return ApiError(400, "InvalidRequestID", "Invalid request ID")


def invalid_transition(state: RState) -> ApiError:
    return ApiError(
        403,
        "InvalidStateTransition",
        f"State transition from {state.value} failed for runtime. "
        "Error: State transition is not allowed",
    )


def too_large() -> ApiError:
    return ApiError(
        413,
        "RequestEntityTooLarge",
        f"Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
    )


def response_too_large_body() -> bytes:
    """What the *caller* gets when the runtime's response was refused for its size (§2.2)."""
    return json.dumps(
        {
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
            f"({MAX_PAYLOAD} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        }
    ).encode()


EventListener = Callable[[Event], None]


class RuntimeState:
    """One environment's Runtime API state; every verb checks ``ALLOWED`` before anything else."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.state = RState.STARTED
        self.current: Event | None = None
        self._listeners: list[EventListener] = []

    def _check(self, call: Call) -> None:
        if (self.state, call) not in ALLOWED:
            raise invalid_transition(self.state)

    def _check_reply(self, call: Call, request_id: str) -> Event:
        current = self.current
        if self.state is RState.ANSWERED and current and current.request_id != request_id:
            raise invalid_request_id()
        self._check(call)
        assert current is not None  # INVOKING always has one
        if current.request_id != request_id:
            raise invalid_request_id()
        return current

    # -- the runtime's verbs -------------------------------------------------------------------
    def next(self, listener: EventListener, report: dict[str, Any] | None = None) -> Event | None:
        """Ask for an event: the current one when it is unanswered, else park ``listener``."""
        self._check(Call.NEXT)
        if self.state is RState.INVOKING:
            return self.current
        if self.state is not RState.WAITING:
            self.state, self.current = RState.WAITING, None
            self.sink.runtime_next(report or {})
        self._listeners.append(listener)
        return None

    def forget(self, listener: EventListener) -> None:
        """A parked ``/next`` went away (its connection closed) before an event came."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def response(self, request_id: str, body: bytes, content_type: str) -> None:
        self._check_reply(Call.RESPONSE, request_id)
        self.state = RState.ANSWERED
        self.sink.runtime_response(request_id, body, content_type)

    def response_too_large(self, request_id: str) -> None:
        """The runtime's result was over the limit: the invocation ends with the size error."""
        self._check_reply(Call.RESPONSE, request_id)
        self.state = RState.ANSWERED
        self.sink.runtime_error(request_id, response_too_large_body(), None)

    def error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._check_reply(Call.ERROR, request_id)
        self.state = RState.ANSWERED
        self.sink.runtime_error(request_id, body, error_type)

    def init_error(self, error_type: str | None, body: bytes) -> None:
        self._check(Call.INIT_ERROR)
        self.state = RState.INIT_FAILED
        self.sink.runtime_init_error(error_type, body)

    # -- the owner's verbs ---------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        """Hand an event to the runtime; legal only while it waits for one (a server bug else)."""
        if self.state is not RState.WAITING:
            raise RuntimeError(f"cannot deliver an event in state {self.state.name}")
        self.state, self.current = RState.INVOKING, event
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(event)

    def close(self) -> None:
        self.state = RState.CLOSED
        self._listeners.clear()
