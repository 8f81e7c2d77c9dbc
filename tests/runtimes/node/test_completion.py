"""Every completion rule of a Node invocation (contract §3.3), on real node processes."""

from __future__ import annotations

import pytest

from keepwarm import FunctionConfig, Runtime
from keepwarm.invocation import StartKind
from tests.runtimes.node.conftest import RuntimeFactory, node_function

pytestmark = pytest.mark.node

HANDLERS = """
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let calls = 0;
exports.asyncOk = async (event) => ({ got: event, calls: ++calls });
exports.asyncReject = async () => { throw new TypeError('bad type'); };
exports.asyncRejectString = async () => { throw 'just a string'; };
exports.asyncRejectNumber = () => Promise.reject(42);
exports.asyncNever = async () => new Promise(() => {});
exports.callbackWaits = (event, context, callback) => {
  setTimeout(() => console.log('timer fired'), 300);
  callback(null, 'waited');
};
exports.callbackNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => console.log('late timer'), 1500);
  callback(null, 'did not wait');
};
exports.callbackError = (event, context, callback) => {
  setTimeout(() => console.log('late timer'), 1500);
  callback(new RangeError('out of range'));
};
exports.succeed = (event, context) => { context.succeed({ ok: 1 }); context.succeed({ ok: 2 }); };
exports.fail = (event, context) => context.fail(new Error('failed'));
exports.failEmpty = (event, context) => context.fail();
exports.done = (event, context) => context.done(null, 'done!');
exports.doneError = (event, context) => context.done('nope');
exports.firstWins = (event, context, callback) => {
  callback(null, 'first');
  context.fail('second');
};
exports.neverCalls = (event, context) => { setTimeout(() => console.log('drained'), 50); };
exports.throwsSync = () => { throw new Error('sync throw'); };
exports.context = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  invokedFunctionArn: context.invokedFunctionArn,
  awsRequestId: context.awsRequestId,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  clientContext: context.clientContext,
  identity: context.identity === undefined ? 'undefined' : context.identity,
  env: process.env.AWS_EXECUTION_ENV,
});
exports.circular = async () => { const a = {}; a.a = a; return a; };
"""

NAMES = [
    "asyncOk",
    "asyncReject",
    "asyncRejectString",
    "asyncRejectNumber",
    "asyncNever",
    "callbackWaits",
    "callbackNoWait",
    "callbackError",
    "succeed",
    "fail",
    "failEmpty",
    "done",
    "doneError",
    "firstWins",
    "neverCalls",
    "throwsSync",
    "context",
    "circular",
]


@pytest.fixture(scope="module")
def fns(tmp_path_factory: pytest.TempPathFactory) -> list[FunctionConfig]:
    tmp = tmp_path_factory.mktemp("completion")
    return [
        node_function(tmp, name, {"index.js": HANDLERS}, handler=f"index.{name}") for name in NAMES
    ]


@pytest.fixture
def rt(runtime: RuntimeFactory, fns: list[FunctionConfig]) -> Runtime:
    return runtime(*fns)


def test_async_resolve_is_success_and_reuses_the_environment(rt: Runtime) -> None:
    first, second = rt.invoke("asyncOk", {"a": 1}), rt.invoke("asyncOk", {"a": 2})
    assert first.json() == {"got": {"a": 1}, "calls": 1}
    assert second.json() == {"got": {"a": 2}, "calls": 2}
    assert (first.start_kind, second.start_kind) == (StartKind.COLD, StartKind.WARM)


def test_async_reject_posts_error_with_trace(rt: Runtime) -> None:
    result = rt.invoke("asyncReject")
    body = result.json()
    assert result.function_error == "Unhandled"
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad type")
    assert body["trace"][0] == "TypeError: bad type"
    assert "\tERROR\tInvoke Error \t{" in result.logs
    assert rt.invoke("asyncOk").start_kind is StartKind.COLD  # other function
    assert rt.invoke("asyncReject").start_kind is StartKind.WARM  # a handled error keeps it


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "asyncRejectString",
            {"errorType": "string", "errorMessage": "just a string", "trace": []},
        ),
        ("asyncRejectNumber", {"errorType": "number", "errorMessage": "42", "trace": []}),
        ("failEmpty", {"errorType": "string", "errorMessage": "handled", "trace": []}),
        ("doneError", {"errorType": "string", "errorMessage": "nope", "trace": []}),
    ],
)
def test_non_error_values_use_typeof(rt: Runtime, name: str, expected: dict[str, object]) -> None:
    assert rt.invoke(name).json() == expected


def test_async_that_never_settles_is_node_js_exit(rt: Runtime) -> None:
    result = rt.invoke("asyncNever")
    assert result.json()["errorType"] == "Runtime.NodeJsExit"
    assert rt.invoke("asyncNever").start_kind is StartKind.WARM


def test_callback_waits_for_the_event_loop_to_drain(rt: Runtime) -> None:
    result = rt.invoke("callbackWaits")
    assert result.json() == "waited"
    assert "\tINFO\ttimer fired" in result.logs  # the timer ran before the invocation ended
    assert result.duration_ms >= 250


def test_callback_without_waiting_answers_at_once(rt: Runtime) -> None:
    result = rt.invoke("callbackNoWait")
    assert result.json() == "did not wait"
    assert "late timer" not in result.logs
    assert result.duration_ms < 1000


def test_callback_error_is_posted_at_once(rt: Runtime) -> None:
    result = rt.invoke("callbackError")
    assert result.json()["errorType"] == "RangeError"
    assert "late timer" not in result.logs and result.duration_ms < 1000


@pytest.mark.parametrize(
    ("name", "payload"),
    [("succeed", {"ok": 1}), ("done", "done!"), ("firstWins", "first"), ("neverCalls", None)],
)
def test_legacy_context_methods_and_first_completion_wins(
    rt: Runtime, name: str, payload: object
) -> None:
    result = rt.invoke(name)
    assert result.ok and result.json() == payload


def test_context_fail_and_sync_throw(rt: Runtime) -> None:
    assert rt.invoke("fail").json()["errorMessage"] == "failed"
    assert rt.invoke("throwsSync").json()["errorMessage"] == "sync throw"


def test_non_serialisable_result_is_an_error(rt: Runtime) -> None:
    body = rt.invoke("circular").json()
    assert (body["errorType"], body["errorMessage"]) == (
        "Error",
        "Unable to stringify response body",
    )


def test_context_object(rt: Runtime) -> None:
    result = rt.invoke("context", {}, client_context='{"custom":{"k":"v"},"env":{},"client":{}}')
    body = result.json()
    assert body["functionName"] == "context" and body["functionVersion"] == "$LATEST"
    assert body["memoryLimitInMB"] == "128"
    assert body["logGroupName"] == "/aws/lambda/context" and body["logStreamName"]
    assert body["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:context"
    assert body["awsRequestId"] == result.request_id
    assert 5_000 < body["remaining"] <= 10_000
    assert body["waits"] is True
    assert body["clientContext"] == {"custom": {"k": "v"}, "env": {}, "client": {}}
    assert body["identity"] == "undefined"
    assert body["env"] == "AWS_Lambda_nodejs20.x"
