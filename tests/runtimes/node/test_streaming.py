"""``awslambda.streamifyResponse`` handlers, invoked (buffered) as Invoke does on Lambda."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepwarm import Runtime
from tests.runtimes.node.conftest import RuntimeFactory, node_function

pytestmark = pytest.mark.node

HANDLERS = """
const { pipeline } = require('stream/promises');
const { Readable } = require('stream');
let calls = 0;
exports.text = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write(`hello ${event.name} `);
  await new Promise((r) => setTimeout(r, 20));
  responseStream.write(`call ${++calls} ${context.awsRequestId.length}`);
  responseStream.end();
});
exports.piped = awslambda.streamifyResponse(async (event, responseStream) => {
  await pipeline(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), responseStream);
});
exports.unended = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('{"not": "ended"}');
});
exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
  const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201 });
  out.end('body');
});
exports.fails = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial');
  throw new RangeError('stream broke');
});
exports.plain = async () => ({ type: typeof awslambda.streamifyResponse });
"""


def _rt(runtime: RuntimeFactory, tmp_path: Path, name: str) -> Runtime:
    fn = node_function(tmp_path, name, {"index.js": HANDLERS}, handler=f"index.{name}")
    return runtime(fn)


def test_a_streamed_body_is_the_response_and_the_environment_is_reused(
    runtime: RuntimeFactory, tmp_path: Path
) -> None:
    rt = _rt(runtime, tmp_path, "text")
    first, second = rt.invoke("text", {"name": "ann"}), rt.invoke("text", {"name": "bob"})
    assert first.ok and first.content_type == "text/plain"
    assert first.payload == b"hello ann call 1 36"
    assert second.payload == b"hello bob call 2 36" and second.start_kind.value == "warm"


@pytest.mark.parametrize(
    ("name", "payload", "content_type"),
    [
        ("piped", b"abcd", "application/octet-stream"),
        ("unended", b'{"not": "ended"}', "application/octet-stream"),
        (
            "http",
            b'{"statusCode":201}' + bytes(8) + b"body",
            "application/vnd.awslambda.http-integration-response",
        ),
    ],
)
def test_stream_shapes(
    runtime: RuntimeFactory, tmp_path: Path, name: str, payload: bytes, content_type: str
) -> None:
    result = _rt(runtime, tmp_path, name).invoke(name)
    assert result.ok and (result.payload, result.content_type) == (payload, content_type)


def test_a_streaming_handler_that_throws_is_a_function_error(
    runtime: RuntimeFactory, tmp_path: Path
) -> None:
    result = _rt(runtime, tmp_path, "fails").invoke("fails")
    assert result.function_error == "Unhandled"
    body = json.loads(result.payload)
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "stream broke")


def test_every_function_sees_the_awslambda_global(runtime: RuntimeFactory, tmp_path: Path) -> None:
    assert _rt(runtime, tmp_path, "plain").invoke("plain").json() == {"type": "function"}
