"""The Runtime API 2018-06-01: one route table, one small handler per endpoint.

Why handlers are plain functions over (state, request): the HTTP server only parses bytes and
writes responses, so every rule of contract §2 lives here and can be tested without sockets.
A handler returns a ``Response`` or, for a ``/next`` that has to wait, ``PARK`` (the server then
answers when the state hands it an event). Nothing here raises past ``dispatch``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from keepwarm.runtime_api.state import ApiError, RuntimeState, too_large
from keepwarm.runtimes.event import Event

PREFIX = "/2018-06-01"
ERROR_TYPE = "lambda-runtime-function-error-type"
RESPONSE_MODE = "lambda-runtime-function-response-mode"
REPORT = "keepwarm-report"
_ID = r"(?P<id>[^/]+)"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    oversize: bool = False  # the body went over MAX_PAYLOAD and was discarded
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @staticmethod
    def json(status: int, value: Any) -> Response:
        return Response(status, json.dumps(value).encode(), [("Content-Type", "application/json")])

    @staticmethod
    def text(status: int, text: str) -> Response:
        return Response(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8")])


class _Park:
    """Marker: the request waits for an event."""


PARK = _Park()
Result = Response | _Park
Handler = Callable[[RuntimeState, Request, Callable[[Event], None]], Result]

ACCEPTED = Response.json(202, {"status": "OK"})


def _error(exc: ApiError) -> Response:
    return Response(exc.status, exc.body(), [("Content-Type", "application/json")])


def event_response(event: Event) -> Response:
    """``/next``'s answer: the event body and each §2.1 header that has a value."""
    headers = [
        ("Content-Type", event.content_type),
        ("Lambda-Runtime-Aws-Request-Id", event.request_id),
        ("Lambda-Runtime-Deadline-Ms", str(event.deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", event.invoked_arn),
        ("Lambda-Runtime-Trace-Id", event.trace_id or ""),
        ("Lambda-Runtime-Client-Context", event.client_context or ""),
        ("Lambda-Runtime-Cognito-Identity", event.cognito_identity or ""),
    ]
    kept = [(name, _header_safe(value)) for name, value in headers if value]
    return Response(200, event.body, kept)


def _header_safe(value: str) -> str:
    """Header values cannot carry CR/LF/NUL; in JSON text those are only ever whitespace."""
    return value.replace("\r", " ").replace("\n", " ").replace("\0", " ")


def _report(request: Request) -> dict[str, Any]:
    """keepwarm's optional ``Keepwarm-Report`` header (runtime statistics); ignored if bad."""
    raw = request.headers.get(REPORT)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- one handler per endpoint ------------------------------------------------------------------
def next_invocation(state: RuntimeState, req: Request, listener: Callable[[Event], None]) -> Result:
    event = state.next(listener, _report(req))
    return PARK if event is None else event_response(event)


def invocation_response(state: RuntimeState, req: Request, _: Callable[[Event], None]) -> Result:
    mode = req.headers.get(RESPONSE_MODE)
    if mode is not None and mode != "streaming":
        raise ApiError(400, "InvalidFunctionResponseMode", f"Unsupported response mode: {mode}")
    if req.oversize:
        state.response_too_large(req.params["id"])
        return _error(too_large())
    content_type = req.headers.get("content-type") or "application/json"
    state.response(req.params["id"], req.body, content_type)
    return ACCEPTED


def invocation_error(state: RuntimeState, req: Request, _: Callable[[Event], None]) -> Result:
    if req.oversize:
        state.response_too_large(req.params["id"])
        return _error(too_large())
    state.error(req.params["id"], req.body, req.headers.get(ERROR_TYPE))
    return ACCEPTED


def init_error(state: RuntimeState, req: Request, _: Callable[[Event], None]) -> Result:
    if req.oversize:
        raise too_large()
    state.init_error(req.headers.get(ERROR_TYPE), req.body)
    return ACCEPTED


def ping(state: RuntimeState, req: Request, _: Callable[[Event], None]) -> Result:
    return Response.text(200, "pong")


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(rf"{PREFIX}/runtime/invocation/next"), next_invocation),
    ("POST", re.compile(rf"{PREFIX}/runtime/invocation/{_ID}/response"), invocation_response),
    ("POST", re.compile(rf"{PREFIX}/runtime/invocation/{_ID}/error"), invocation_error),
    ("POST", re.compile(rf"{PREFIX}/runtime/init/error"), init_error),
    ("GET", re.compile(rf"{PREFIX}/ping"), ping),
]


def dispatch(state: RuntimeState, req: Request, listener: Callable[[Event], None]) -> Result:
    """Route and run one request; any refusal becomes Lambda's error shape, never a 500."""
    path = req.path.split("?", 1)[0]
    allowed: list[str] = []
    for method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if method != req.method:
            allowed.append(method)
            continue
        req.params = {key: unquote(value) for key, value in match.groupdict().items()}
        try:
            return handler(state, req, listener)
        except ApiError as exc:
            return _error(exc)
    if allowed:
        response = Response.text(405, "Method Not Allowed\n")
        response.headers.append(("Allow", ", ".join(allowed)))
        return response
    return Response.text(404, "404 page not found\n")
