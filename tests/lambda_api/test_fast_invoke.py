"""``FastInvoke`` answers exactly as the Starlette ``invoke`` handler does, status, headers and
body, for successes and for every kind of bad request; both driven in-process over ASGI against
the same backend and its real environments."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from keepwarm.lambda_api.app import create_app
from keepwarm.lambda_api.backend import ServeOptions
from keepwarm.lambda_api.fast_invoke import FastInvoke

HANDLER = "def handler(event, context):\n    print('seen', event)\n    return {'echo': event}\n"
FN = "/2015-03-31/functions"
CC = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()

CASES: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("ok", f"{FN}/echo/invocations", b'{"a": 1}', {}),
    ("empty body", f"{FN}/echo/invocations", b"", {}),
    ("tail", f"{FN}/echo/invocations", b"{}", {"x-amz-log-type": "Tail"}),
    ("qualifier", f"{FN}/echo/invocations?Qualifier=%24LATEST", b"{}", {}),
    ("mismatch", f"{FN}/echo:1/invocations?Qualifier=2", b"{}", {}),
    ("not json", f"{FN}/echo/invocations", b"{nope", {}),
    ("unknown", f"{FN}/missing/invocations", b"{}", {}),
    ("bad name", f"{FN}/bad%20name!/invocations", b"{}", {}),
    ("bad type", f"{FN}/echo/invocations", b"{}", {"x-amz-invocation-type": "Sometimes"}),
    ("bad log", f"{FN}/echo/invocations", b"{}", {"x-amz-log-type": "All"}),
    ("dry run", f"{FN}/echo/invocations", b"{}", {"x-amz-invocation-type": "DryRun"}),
    ("event", f"{FN}/echo/invocations", b"{}", {"x-amz-invocation-type": "Event"}),
    ("context", f"{FN}/echo/invocations", b"{}", {"x-amz-client-context": CC}),
    ("bad context", f"{FN}/echo/invocations", b"{}", {"x-amz-client-context": "!!"}),
]

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _scope(target: str, headers: dict[str, str], length: int) -> dict[str, Any]:
    path, _, query = target.partition("?")
    from urllib.parse import unquote

    raw = [(b"host", b"127.0.0.1"), (b"content-length", str(length).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 1),
        "state": {},
    }


async def _call(app: Any, target: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(target, headers, len(body)), receive, send)
    start, *rest = sent
    head = {k.decode().lower(): v for k, v in start["headers"]}
    return {
        "status": start["status"],
        "headers": {k: _UUID.sub(b"<id>", v) for k, v in head.items() if k != "x-amz-log-result"},
        "tail": "x-amz-log-result" in head,
        "body": _UUID.sub(b"<id>", b"".join(m.get("body", b"") for m in rest)),
    }


def test_fast_path_answers_like_the_starlette_handler(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  echo:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: echo\n"
        f"      Handler: app.handler\n      Runtime: python3.12\n      CodeUri: {code}\n"
    )
    options = ServeOptions(data_dir=tmp_path / "data", template=tmp_path / "template.yaml")
    app = create_app(options)
    assert isinstance(app, FastInvoke)

    async def main() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        async with app.app.router.lifespan_context(app.app):
            out = []
            for name, target, body, headers in CASES:
                fast = await _call(app, target, body, headers)
                slow = await _call(app.app, target, body, headers)
                out.append((name, fast, slow))
            return out

    results = asyncio.run(asyncio.wait_for(main(), 120))
    for name, fast, slow in results:
        assert fast == slow, name
    statuses = {name: fast["status"] for name, fast, _ in results}
    assert statuses == {
        "ok": 200, "empty body": 200, "tail": 200, "qualifier": 200, "mismatch": 400,
        "not json": 400, "unknown": 404, "bad name": 400, "bad type": 400, "bad log": 400,
        "dry run": 204, "event": 202, "context": 200, "bad context": 400,
    }  # fmt: skip
    ok = next(fast for name, fast, _ in results if name == "ok")
    assert json.loads(ok["body"]) == {"echo": {"a": 1}}
    assert next(fast["tail"] for name, fast, _ in results if name == "tail")


@pytest.mark.parametrize("query", [b"", b"Qualifier=", b"Qualifier=1&Qualifier=2", b"x=1"])
def test_qualifier_query_matches_starlette(query: bytes) -> None:
    from starlette.datastructures import QueryParams

    from keepwarm.lambda_api.fast_invoke import _qualifier

    assert _qualifier(query) == QueryParams(query.decode()).get("Qualifier")


RAW_HEADERS = [
    [(b"x-amz-log-type", b"Tail"), (b"x-amz-log-type", b"None")],
    [(b"content-length", b"2"), (b"x-amz-invocation-type", b"Event"), (b"x-other", b"1")],
    [(b"x-amz-client-context", b"e30="), (b"x-amz-client-context", b"")],
    [(b"x-amz-invocation-type", b"Dry\xe9Run")],
    [],
]


@pytest.mark.parametrize("raw", RAW_HEADERS)
def test_headers_read_like_starlette_even_when_repeated(raw: list[tuple[bytes, bytes]]) -> None:
    from starlette.datastructures import Headers

    from keepwarm.lambda_api.fast_invoke import _USED, _headers

    ours, theirs = _headers(raw), Headers(raw=raw)
    for name in _USED:
        assert ours.get(name.decode()) == theirs.get(name.decode()), name
