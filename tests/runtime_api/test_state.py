"""The runtime state object: default deny, and no sequence of calls leaves it somewhere unknown.

A Hypothesis state machine drives ``RuntimeState`` with every verb, right and wrong ids, in any
order, and checks it against a small model of contract §2 after each step.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from keepwarm.runtime_api.state import (
    ALLOWED,
    ApiError,
    Call,
    RState,
    RuntimeState,
)
from keepwarm.runtimes.event import Event
from tests.runtime_api.conftest import RecordingSink


def event(rid: str = "id-1") -> Event:
    return Event(request_id=rid, deadline_ms=1, invoked_arn="arn", body=b"{}")


def test_every_pair_not_listed_is_refused_with_403() -> None:
    for state in RState:
        for call in Call:
            if (state, call) in ALLOWED:
                continue
            rs = RuntimeState(RecordingSink())
            rs.state = state
            rs.current = event() if state in (RState.INVOKING, RState.ANSWERED) else None
            with pytest.raises(ApiError) as info:
                _call(rs, call, "id-1")
            assert info.value.status == 403
            assert info.value.error_type == "InvalidStateTransition"
            assert rs.state is state


def _call(rs: RuntimeState, call: Call, rid: str) -> object:
    if call is Call.NEXT:
        return rs.next(lambda e: None)
    if call is Call.RESPONSE:
        return rs.response(rid, b"{}", "application/json")
    if call is Call.ERROR:
        return rs.error(rid, b"{}", None)
    return rs.init_error("Runtime.X", b"{}")


def test_the_lifecycle_of_one_invocation() -> None:
    sink = RecordingSink()
    rs = RuntimeState(sink)
    served: list[Event] = []
    assert rs.next(served.append) is None
    assert rs.state is RState.WAITING and sink.kinds() == ["next"]
    rs.deliver(event("a"))
    assert served == [event("a")] and rs.state is RState.INVOKING
    assert rs.next(served.append) == event("a")  # §2.4: re-served while unanswered
    with pytest.raises(ApiError) as wrong:
        rs.response("b", b"1", "application/json")
    assert wrong.value.status == 400 and wrong.value.error_type == "InvalidRequestID"
    rs.response("a", b"1", "application/json")
    assert rs.state is RState.ANSWERED
    with pytest.raises(ApiError) as again:
        rs.error("a", b"{}", None)
    assert again.value.status == 403
    assert rs.next(served.append) is None
    assert sink.kinds() == ["next", "response", "next"]


def test_an_oversize_response_ends_the_invocation_with_the_size_error() -> None:
    sink = RecordingSink()
    rs = RuntimeState(sink)
    rs.next(lambda e: None)
    rs.deliver(event("a"))
    rs.response_too_large("a")
    kind, rid, body, _ = sink.calls[-1]
    assert (kind, rid) == ("error", "a")
    assert b"Function.ResponseSizeTooLarge" in body and b"6291556" in body


def test_deliver_outside_waiting_is_a_server_bug() -> None:
    rs = RuntimeState(RecordingSink())
    with pytest.raises(RuntimeError):
        rs.deliver(event())


IDS = st.sampled_from(["id-0", "id-1", "id-2", "other"])


class RuntimeApiMachine(RuleBasedStateMachine):
    """Random runtime calls and server deliveries; the model says what each must do."""

    def __init__(self) -> None:
        super().__init__()
        self.sink = RecordingSink()
        self.rs = RuntimeState(self.sink)
        self.served: list[Event] = []
        self.delivered = 0
        self.expected_next_reports = 0

    def attempt(self, call: Call, rid: str, action: object) -> None:
        before, current = self.rs.state, self.rs.current
        calls_before = len(self.sink.calls)
        allowed = (before, call) in ALLOWED
        right_id = current is not None and current.request_id == rid
        try:
            action()  # type: ignore[operator]
        except ApiError as exc:
            assert exc.status in (400, 403)
            assert len(self.sink.calls) == calls_before  # a refusal changes nothing
            assert self.rs.state is before
            if exc.status == 400:
                assert exc.error_type == "InvalidRequestID" and not right_id
            else:
                assert exc.error_type == "InvalidStateTransition" and not (
                    allowed and (call in (Call.NEXT, Call.INIT_ERROR) or right_id)
                )
            return
        assert allowed
        if call in (Call.RESPONSE, Call.ERROR):
            assert right_id and self.rs.state is RState.ANSWERED

    @rule()
    def next(self) -> None:
        before = self.rs.state
        self.attempt(Call.NEXT, "", lambda: self.rs.next(self.served.append))
        if before in (RState.STARTED, RState.ANSWERED):
            self.expected_next_reports += 1

    @rule(rid=IDS, body=st.binary(max_size=32))
    def response(self, rid: str, body: bytes) -> None:
        self.attempt(Call.RESPONSE, rid, lambda: self.rs.response(rid, body, "application/json"))

    @rule(rid=IDS, body=st.binary(max_size=32), etype=st.none() | st.text(max_size=10))
    def error(self, rid: str, body: bytes, etype: str | None) -> None:
        self.attempt(Call.ERROR, rid, lambda: self.rs.error(rid, body, etype))

    @rule(rid=IDS)
    def too_large(self, rid: str) -> None:
        self.attempt(Call.RESPONSE, rid, lambda: self.rs.response_too_large(rid))

    @rule(body=st.binary(max_size=32))
    def init_error(self, body: bytes) -> None:
        self.attempt(Call.INIT_ERROR, "", lambda: self.rs.init_error(None, body))

    @precondition(lambda self: self.rs.state is RState.WAITING)
    @rule()
    def deliver(self) -> None:
        parked = len(self.rs._listeners)
        served = len(self.served)
        self.rs.deliver(event(f"id-{self.delivered % 3}"))
        self.delivered += 1
        assert len(self.served) == served + parked  # every parked /next got the event

    @invariant()
    def state_is_known_and_consistent(self) -> None:
        assert isinstance(self.rs.state, RState)
        if self.rs.state in (RState.INVOKING, RState.ANSWERED):
            assert self.rs.current is not None
        if self.rs.state in (RState.STARTED, RState.WAITING, RState.INIT_FAILED):
            assert self.rs.current is None
        assert self.sink.kinds().count("next") == self.expected_next_reports
        if self.rs.state is RState.INIT_FAILED:
            assert self.sink.kinds()[-1] == "init_error"


RuntimeApiMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],  # the machine is shared with other suites
)
TestRuntimeApiMachine = RuntimeApiMachine.TestCase
