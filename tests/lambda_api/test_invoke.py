"""Invoke over HTTP with boto3: status codes, headers, error shapes (contract §4)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_api.kw_server import ROLE, Server, create, make_zip

REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: \d+ MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d{2} ms\t)?"
)
FAILING = """
def handler(event, context):
    raise Exception("Handler fails")
"""


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    resp: dict[str, Any] = excinfo.value.response
    return (
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Code"],
        resp["Error"]["Message"],
    )


def test_warm_reuse_and_cold_start_with_tail_logs(lam: Any, server: Server) -> None:
    create(lam, "counter")
    first = lam.invoke(FunctionName="counter", Payload=b'{"a": 1}', LogType="Tail")
    second = lam.invoke(FunctionName="counter", Payload=b"{}", LogType="Tail")
    assert first["StatusCode"] == second["StatusCode"] == 200
    assert first["ExecutedVersion"] == "$LATEST"
    one, two = json.loads(first["Payload"].read()), json.loads(second["Payload"].read())
    assert (one["count"], two["count"]) == (1, 2) and one["pid"] == two["pid"]
    assert one["event"] == {"a": 1}
    cold = base64.b64decode(first["LogResult"]).decode()
    warm = base64.b64decode(second["LogResult"]).decode()
    request_id = first["ResponseMetadata"]["RequestId"]
    # As on Lambda, a cold start's tail begins at START: INIT_START stays in the log stream.
    assert cold.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert f"END RequestId: {request_id}\n" in cold
    cold_report, warm_report = REPORT.search(cold), REPORT.search(warm)
    assert cold_report and warm_report
    assert cold_report["id"] == request_id and cold_report.group(2)  # Init Duration: cold only
    assert warm_report.group(2) is None
    assert "LogResult" not in lam.invoke(FunctionName="counter")
    version_arn = lam.get_function_configuration(FunctionName="counter")["RuntimeVersionConfig"]
    streams = (server.data_dir / "logs" / "counter").rglob("*.log")
    stream = "".join(path.read_text() for path in streams)
    assert "INIT_START Runtime Version: " in stream
    assert f"\tRuntime Version ARN: {version_arn['RuntimeVersionArn']}\n" in stream  # one value


def test_tail_is_at_most_4kb(lam: Any) -> None:
    create(lam, "chatty", "def handler(e, c):\n    print('x' * 10000)\n    return 1\n")
    out = lam.invoke(FunctionName="chatty", LogType="Tail")
    log = base64.b64decode(out["LogResult"])
    assert len(log) == 4096 and REPORT.search(log.decode())


def test_concurrent_invocations_get_separate_environments(lam: Any, server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    create(
        lam,
        "slow",
        "import os, time\ndef handler(e, c):\n    time.sleep(0.5)\n    return os.getpid()\n",
    )
    clients = [server.client() for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        pids = list(
            pool.map(lambda c: json.loads(c.invoke(FunctionName="slow")["Payload"].read()), clients)
        )
    assert len(set(pids)) == 3


def test_client_context_is_decoded_for_the_handler(lam: Any) -> None:
    create(lam, "ctx")
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    out = json.loads(lam.invoke(FunctionName="ctx", ClientContext=context)["Payload"].read())
    assert out["cc"] == {"k": "v"}
    for not_an_object in (b"42", b"[1, 2]", b'"text"'):  # runtimes read members of it
        with pytest.raises(ClientError) as err:
            lam.invoke(FunctionName="ctx", ClientContext=base64.b64encode(not_an_object).decode())
        assert error_of(err)[:2] == (400, "InvalidRequestContentException")


def test_function_error_is_200_with_unhandled(lam: Any) -> None:
    create(lam, "fails", FAILING)
    out = lam.invoke(FunctionName="fails")
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"].read())
    assert body["errorType"] == "Exception" and body["errorMessage"] == "Handler fails"
    assert body["requestId"] == out["ResponseMetadata"]["RequestId"]


def test_event_and_dry_run(lam: Any) -> None:
    create(lam, "ev")
    event = lam.invoke(FunctionName="ev", InvocationType="Event", Payload=b"{}")
    assert event["StatusCode"] == 202 and event["Payload"].read() == b""
    assert "ExecutedVersion" not in event
    dry = lam.invoke(FunctionName="ev", InvocationType="DryRun")
    assert dry["StatusCode"] == 204


def test_names_arns_and_qualifiers(lam: Any) -> None:
    create(lam, "named")
    lam.publish_version(FunctionName="named")
    lam.create_alias(FunctionName="named", Name="live", FunctionVersion="1")
    arn = "arn:aws:lambda:us-east-1:000000000000:function:named"
    forms = [
        ("named", None, "$LATEST"),
        (arn, None, "$LATEST"),
        ("000000000000:function:named", None, "$LATEST"),
        ("named:1", None, "1"),
        (f"{arn}:live", None, "1"),
        ("named", "live", "1"),
        ("named", "$LATEST", "$LATEST"),
        ("named:live", "live", "1"),
    ]
    for name, qualifier, version in forms:
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        assert lam.invoke(FunctionName=name, **kwargs)["ExecutedVersion"] == version, name
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="named:1", Qualifier="live")
    assert error_of(err) == (
        400,
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )


def test_not_found_messages(lam: Any) -> None:
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="missing")
    assert error_of(err) == (
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST",
    )
    create(lam, "present")
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="present", Qualifier="7")
    assert error_of(err)[2].endswith("function:present:7")
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName="missing")
    assert error_of(err) == (
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing",
    )


def test_bad_json_payload(lam: Any) -> None:
    create(lam, "js")
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="js", Payload=b"test")
    status, code, message = error_of(err)
    assert (status, code) == (400, "InvalidRequestContentException")
    assert message.startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )
    assert json.loads(lam.invoke(FunctionName="js", Payload=b"")["Payload"].read())["event"] == {}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"a": NaN}', "Non-standard token 'NaN'"),
        (b"[" * 100_000, "nesting depth"),
        (b"[" * 5000 + b"]" * 5000, "nesting depth"),
    ],
)
@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event", "DryRun"])
def test_payloads_lambda_cannot_parse_are_refused_up_front(
    lam: Any, payload: bytes, fragment: str, invocation_type: str
) -> None:
    """A 400 for every invocation type: nothing queued or run, no 500 (which boto3 retries)."""
    create(lam, "strict")
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="strict", Payload=payload, InvocationType=invocation_type)
    status, code, message = error_of(err)
    assert (status, code) == (400, "InvalidRequestContentException") and fragment in message
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 0


def test_payload_limits(lam: Any) -> None:
    create(lam, "big")
    sync = b'"' + b"a" * 6_291_456 + b'"'
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="big", Payload=sync)
    assert error_of(err) == (
        413,
        "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )
    event = b'"' + b"a" * 1_048_576 + b'"'
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="big", Payload=event, InvocationType="Event")
    assert error_of(err) == (
        413,
        "RequestEntityTooLargeException",
        f"{len(event)} byte payload is too large for the Event invocation type "
        "(limit 1048576 bytes)",
    )
    assert lam.invoke(FunctionName="big", Payload=event)["StatusCode"] == 200


def test_reserved_zero_throttles_with_reason(lam: Any) -> None:
    create(lam, "throttled")
    lam.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="throttled")
    assert error_of(err) == (429, "TooManyRequestsException", "Rate Exceeded.")
    assert err.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName="throttled")
    assert lam.invoke(FunctionName="throttled")["StatusCode"] == 200


def test_pending_function_conflicts(start_server: Any) -> None:
    srv = start_server("--activation-delay", "1.5")
    lam = srv.client()
    out = lam.create_function(
        FunctionName="later",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return 1\n"})},
    )
    assert (out["State"], out["StateReasonCode"]) == ("Pending", "Creating")
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="later")
    assert error_of(err) == (
        409,
        "ResourceConflictException",
        "The operation cannot be performed at this time. The function is currently in the "
        "following state: Pending",
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="later", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    assert lam.invoke(FunctionName="later")["StatusCode"] == 200


@pytest.mark.parametrize(
    ("headers", "code", "fragment"),
    [
        ({"X-Amz-Invocation-Type": "Sometimes"}, "ValidationException", "invocationType"),
        ({"X-Amz-Log-Type": "All"}, "ValidationException", "logType"),
        ({"X-Amz-Client-Context": "%%%"}, "InvalidRequestContentException", "Client context"),
        (  # nested too deep for a parser: a 400 too, not a 500
            {"X-Amz-Client-Context": base64.b64encode(b"[" * 2600).decode()},
            "InvalidRequestContentException",
            "Client context",
        ),
    ],
)
def test_bad_headers(
    server: Server, lam: Any, headers: dict[str, str], code: str, fragment: str
) -> None:
    import http.client

    create(lam, "hdr")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/2015-03-31/functions/hdr/invocations", b"{}", headers)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 400 and resp.getheader("x-amzn-ErrorType") == code
    assert fragment in body["message"] and body["Type"] == "User"
    assert resp.getheader("x-amzn-RequestId")


def test_bad_function_name_and_unknown_route(server: Server, lam: Any) -> None:
    import http.client

    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="bad name!")
    assert error_of(err)[:2] == (400, "ValidationException")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/2015-03-31/nothing-here")
    resp = conn.getresponse()
    assert resp.status == 404 and resp.getheader("x-amzn-ErrorType") == "UnknownOperationException"
    assert json.loads(resp.read())["message"]


def test_invoke_async_legacy(server: Server, lam: Any) -> None:
    create(lam, "legacy")
    out = lam.invoke_async(FunctionName="legacy", InvokeArgs=b"{}")
    assert out["Status"] == 202


TRACE = "import os\ndef handler(event, context):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"
TRACE_RE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")


def test_every_invocation_has_a_trace_id_and_a_callers_is_propagated(
    server: Server, lam: Any
) -> None:
    """As on Lambda: a trace header for each invocation in ``_X_AMZN_TRACE_ID`` (the X-Ray SDK
    and Powertools read it), the caller's ``X-Amzn-Trace-Id`` when it sent one."""
    import http.client

    create(lam, "traced", TRACE)
    own = [json.loads(lam.invoke(FunctionName="traced")["Payload"].read()) for _ in range(2)]
    assert all(TRACE_RE.match(t) for t in own) and own[0] != own[1]
    theirs = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    for _ in range(2):  # the fast path and keep-alive alike
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request(
            "POST", "/2015-03-31/functions/traced/invocations", b"{}", {"X-Amzn-Trace-Id": theirs}
        )
        assert json.loads(conn.getresponse().read()) == theirs
