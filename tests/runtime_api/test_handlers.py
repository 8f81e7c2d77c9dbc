"""The route table and handlers of contract §2, without sockets; then any request sequence.

Each rule of §2/§10 has its own small test; a Hypothesis test throws arbitrary sequences of
right, wrong and garbage requests (and oversize bodies) at ``dispatch`` and checks that every
answer is one the contract allows, never a 500, and that the state stays valid.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepwarm.runtime_api.handlers import PARK, Request, Response, dispatch
from keepwarm.runtime_api.state import RState, RuntimeState
from keepwarm.runtimes.event import Event
from tests.runtime_api.conftest import RecordingSink

P = "/2018-06-01/runtime"


def invoking(sink: RecordingSink, **fields: object) -> tuple[RuntimeState, list[Event]]:
    rs = RuntimeState(sink)
    served: list[Event] = []
    assert dispatch(rs, Request("GET", f"{P}/invocation/next"), served.append) is PARK
    values: dict[str, object] = {
        "request_id": "rid-1",
        "deadline_ms": 1_700_000_000_123,
        "invoked_arn": "arn:aws:lambda:us-east-1:0:function:f",
        "body": b'{"a": 1}',
    }
    values.update(fields)
    rs.deliver(Event(**values))  # type: ignore[arg-type]
    return rs, served


def call(rs: RuntimeState, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
    result = dispatch(rs, Request(method, path, dict(headers), body), lambda e: None)
    assert isinstance(result, Response)
    return result


def test_next_serves_exactly_the_section_2_1_headers(sink: RecordingSink) -> None:
    rs, _ = invoking(
        sink,
        trace_id="Root=1-a-b;Parent=c;Sampled=0",
        client_context='{"custom":\n{"k": "v"}}',
        cognito_identity='{"cognitoIdentityId":"x"}',
    )
    response = call(rs, "GET", f"{P}/invocation/next")  # re-served: same event
    assert response.status == 200 and response.body == b'{"a": 1}'
    assert dict(response.headers) == {
        "Content-Type": "application/json",
        "Lambda-Runtime-Aws-Request-Id": "rid-1",
        "Lambda-Runtime-Deadline-Ms": "1700000000123",
        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:0:function:f",
        "Lambda-Runtime-Trace-Id": "Root=1-a-b;Parent=c;Sampled=0",
        "Lambda-Runtime-Client-Context": '{"custom": {"k": "v"}}',
        "Lambda-Runtime-Cognito-Identity": '{"cognitoIdentityId":"x"}',
    }


def test_empty_optional_headers_are_not_sent(sink: RecordingSink) -> None:
    rs, _ = invoking(sink)
    names = {name for name, _ in call(rs, "GET", f"{P}/invocation/next").headers}
    assert names == {
        "Content-Type",
        "Lambda-Runtime-Aws-Request-Id",
        "Lambda-Runtime-Deadline-Ms",
        "Lambda-Runtime-Invoked-Function-Arn",
    }


def test_response_is_202_status_ok_and_passes_body_and_type(sink: RecordingSink) -> None:
    rs, _ = invoking(sink)
    response = call(
        rs, "POST", f"{P}/invocation/rid-1/response", b"\x00raw", **{"content-type": "text/plain"}
    )
    assert (response.status, json.loads(response.body)) == (202, {"status": "OK"})
    assert sink.calls[-1] == ("response", "rid-1", b"\x00raw", "text/plain")


def test_error_without_type_header_passes_node_trace_untouched(sink: RecordingSink) -> None:
    rs, _ = invoking(sink)
    body = b'{"errorType":"Error","errorMessage":"x","trace":["Error: x","    at f"]}'
    assert call(rs, "POST", f"{P}/invocation/rid-1/error", body).status == 202
    assert sink.calls[-1] == ("error", "rid-1", body, None)


def test_percent_encoded_ids_are_decoded(sink: RecordingSink) -> None:
    rs, _ = invoking(sink, request_id="a b/c")
    assert call(rs, "POST", f"{P}/invocation/a%20b%2Fc/response", b"1").status == 202


def test_wrong_id_is_400_and_second_reply_is_403(sink: RecordingSink) -> None:
    rs, _ = invoking(sink)
    wrong = call(rs, "POST", f"{P}/invocation/nope/response", b"1")
    assert (wrong.status, json.loads(wrong.body)) == (
        400,
        {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"},
    )
    assert call(rs, "POST", f"{P}/invocation/rid-1/response", b"1").status == 202
    again = call(rs, "POST", f"{P}/invocation/rid-1/error", b"{}")
    assert again.status == 403
    assert json.loads(again.body)["errorType"] == "InvalidStateTransition"


def test_oversize_response_is_413_and_the_caller_gets_response_size_too_large(
    sink: RecordingSink,
) -> None:
    rs, _ = invoking(sink)
    req = Request("POST", f"{P}/invocation/rid-1/response", {}, b"", oversize=True)
    response = dispatch(rs, req, lambda e: None)
    assert isinstance(response, Response) and response.status == 413
    assert json.loads(response.body) == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    kind, _, body, _ = sink.calls[-1]
    assert kind == "error"
    assert json.loads(body) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        "(6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert rs.state is RState.ANSWERED


def test_init_error_keeps_the_header_type_and_body(sink: RecordingSink) -> None:
    rs = RuntimeState(sink)
    body = b'{"errorMessage":"m","errorType":"Runtime.ImportModuleError"}'
    response = call(
        rs,
        "POST",
        f"{P}/init/error",
        body,
        **{"lambda-runtime-function-error-type": "Runtime.ImportModuleError"},
    )
    assert response.status == 202
    assert sink.calls == [("init_error", "Runtime.ImportModuleError", body)]
    assert call(rs, "GET", f"{P}/invocation/next").status == 403


def test_ping_extensions_unknown_and_wrong_method(sink: RecordingSink) -> None:
    rs = RuntimeState(sink)
    assert call(rs, "GET", "/2018-06-01/ping").status == 200
    for path in (
        "/2020-01-01/extension/register",
        "/2020-08-15/logs",
        "/2022-07-01/telemetry",
        "/",
        "/2018-06-01/runtime/invocation",
    ):
        assert call(rs, "POST", path).status == 404
    assert call(rs, "POST", f"{P}/invocation/next").status == 405
    assert call(rs, "GET", f"{P}/init/error").status == 405
    assert (
        call(
            rs,
            "POST",
            f"{P}/invocation/x/response",
            headers="1",
            **{"lambda-runtime-function-response-mode": "bogus"},
        ).status
        == 400
    )


def test_keepwarm_report_header_reaches_the_sink_and_garbage_is_ignored(
    sink: RecordingSink,
) -> None:
    rs = RuntimeState(sink)
    dispatch(
        rs,
        Request("GET", f"{P}/invocation/next", {"keepwarm-report": '{"rss_kb": 7}'}),
        lambda e: None,
    )
    assert sink.calls == [("next", {"rss_kb": 7})]
    rs2 = RuntimeState(RecordingSink())
    dispatch(rs2, Request("GET", f"{P}/invocation/next", {"keepwarm-report": "[1"}), lambda e: None)
    assert rs2.sink.calls == [("next", {})]  # type: ignore[attr-defined]


IDS = st.sampled_from(["rid-0", "rid-1", "zzz", "%", "%zz", "a%2Fb", ""])
PATHS = st.one_of(
    st.just(f"{P}/invocation/next"),
    st.just(f"{P}/init/error"),
    st.just("/2018-06-01/ping"),
    IDS.map(lambda i: f"{P}/invocation/{i}/response"),
    IDS.map(lambda i: f"{P}/invocation/{i}/error"),
    st.sampled_from(["/2020-01-01/extension/event/next", "/2022-07-01/telemetry", "//", "*"]),
    st.text(max_size=40).map(lambda t: "/" + t),
)
REQUESTS = st.builds(
    Request,
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE", "get", "BREW"]),
    path=PATHS,
    headers=st.dictionaries(
        st.sampled_from(
            [
                "content-type",
                "lambda-runtime-function-error-type",
                "lambda-runtime-function-response-mode",
                "keepwarm-report",
                "x-junk",
            ]
        ),
        st.text(max_size=20),
        max_size=4,
    ),
    body=st.binary(max_size=64),
    oversize=st.booleans(),
)
ALLOWED_STATUS = {200, 202, 400, 403, 404, 405, 413}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(REQUESTS, st.booleans()), max_size=30))
def test_any_request_sequence_gets_allowed_answers_and_leaves_a_valid_state(
    steps: list[tuple[Request, bool]],
) -> None:
    sink = RecordingSink()
    rs = RuntimeState(sink)
    served: list[Event] = []
    n = 0
    for request, deliver in steps:
        if deliver and rs.state is RState.WAITING:
            rs.deliver(Event(f"rid-{n % 2}", 1, "arn", b"{}"))
            n += 1
        result = dispatch(rs, request, served.append)
        if result is PARK:
            assert request.method == "GET" and request.path.endswith("/invocation/next")
            continue
        assert isinstance(result, Response)
        assert result.status in ALLOWED_STATUS, (request, result)
        if result.status >= 400 and result.headers[0][1] == "application/json":
            assert set(json.loads(result.body)) == {"errorMessage", "errorType"}
        assert isinstance(rs.state, RState)
        assert (rs.current is None) == (
            rs.state in (RState.STARTED, RState.WAITING, RState.INIT_FAILED)
        )
