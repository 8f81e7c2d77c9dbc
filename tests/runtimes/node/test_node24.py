"""Node.js 24 and later: no callback-style handlers, no callback-era context members."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runtimes.node.conftest import RuntimeFactory, node_function

pytestmark = pytest.mark.node

HANDLERS = """
exports.callback = (event, context, callback) => callback(null, 'called back');
exports.asyncThree = async (event, context, extra) => 'three parameters';
const OLD = ['succeed', 'fail', 'done', 'callbackWaitsForEmptyEventLoop'];
exports.modern = async (event, context) => ({
  members: OLD.filter((k) => k in context),
  remaining: context.getRemainingTimeInMillis() > 0,
  id: context.awsRequestId.length,
});
exports.stream = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.end('streamed');
});
"""
DEPRECATED = (
    "ERROR: AWS Lambda has removed support for callback-based function handlers starting with "
    "Node.js 24. You need to modify this function to use a supported handler signature to use "
    "Node.js 24 or later. For more information see "
    "https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html."
)


def _invoke(runtime: RuntimeFactory, tmp_path: Path, name: str, version: str) -> tuple[bytes, str]:
    fn = node_function(
        tmp_path, name, {"index.js": HANDLERS}, handler=f"index.{name}", runtime=version
    )
    result = runtime(fn).invoke(name)
    return result.payload, result.logs


@pytest.mark.parametrize("name", ["callback", "asyncThree"])
def test_a_handler_of_three_parameters_fails_init_on_node_24(
    runtime: RuntimeFactory, tmp_path: Path, name: str
) -> None:
    payload, logs = _invoke(runtime, tmp_path, name, "nodejs24.x")
    body = json.loads(payload)
    assert (body["errorType"], body["errorMessage"]) == (
        "Runtime.CallbackHandlerDeprecated",
        DEPRECATED,
    )
    assert "Error Type: Runtime.CallbackHandlerDeprecated" in logs


def test_node_22_still_takes_callbacks(runtime: RuntimeFactory, tmp_path: Path) -> None:
    assert _invoke(runtime, tmp_path, "callback", "nodejs22.x")[0] == b'"called back"'


def test_node_24_context_has_no_callback_members(runtime: RuntimeFactory, tmp_path: Path) -> None:
    payload, _ = _invoke(runtime, tmp_path, "modern", "nodejs24.x")
    assert json.loads(payload) == {"members": [], "remaining": True, "id": 36}
    payload, _ = _invoke(runtime, tmp_path / "22", "modern", "nodejs22.x")
    assert json.loads(payload)["members"] == [
        "succeed",
        "fail",
        "done",
        "callbackWaitsForEmptyEventLoop",
    ]


def test_a_streaming_handler_is_not_a_callback_handler(
    runtime: RuntimeFactory, tmp_path: Path
) -> None:
    assert _invoke(runtime, tmp_path, "stream", "nodejs24.x")[0] == b"streamed"
