"""Invoke straight from the ASGI scope: the one operation on every invocation's path.

Why: Starlette's middleware chain, ``Request`` and ``Response`` objects cost about 30 µs a
request, a tenth of a warm HTTP invocation. ``FastInvoke`` serves ``POST …/invocations`` itself
and hands every other request (and the lifespan) to the Starlette app unchanged. It shares the
operation with the Starlette handler (``invoke.run_invoke``) and renders errors through the same
``_render`` functions, so both paths answer byte for byte alike.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from keepwarm.errors import SYNC_LIMIT, ServiceError, ServiceFailure, too_large_sync
from keepwarm.lambda_api import _render
from keepwarm.lambda_api.invoke import outcome_headers, run_invoke
from keepwarm.registry.invoker import InvokeOutcome

_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
_USED = frozenset(
    {
        b"content-length",
        b"x-amz-invocation-type",
        b"x-amz-log-type",
        b"x-amz-client-context",
        b"x-amzn-trace-id",
    }
)
log = logging.getLogger("keepwarm.serve")


class FastInvoke:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _PATH.fullmatch(scope["path"])
            if match is not None:
                await self._invoke(match[1], scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _invoke(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope["headers"])
        try:
            body = await _body(receive, headers.get("content-length"))
            out = await run_invoke(
                self.state.backend, name, _qualifier(scope["query_string"]), body, headers
            )
        except _render.ClientGone:
            return
        except ServiceError as exc:
            out = _render.error_response(exc)
        except Exception as exc:
            log.error("keepwarm: internal error on POST %s", scope["path"], exc_info=exc)
            out = _render.error_response(ServiceFailure("An internal error occurred in keepwarm."))
        if isinstance(out, Response):
            await out(scope, receive, send)
        else:
            await _send(out, send)


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers Invoke reads, the first of each winning as in Starlette's ``Headers``."""
    out: dict[str, str] = {}
    for key, value in raw:
        if key in _USED:
            out.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return out


def _qualifier(query: bytes) -> str | None:
    if not query:
        return None
    values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("Qualifier")
    return values[-1] if values else None


async def _body(receive: Receive, declared: str | None) -> bytes:
    """The request body; one small message (the usual case) skips the streaming reader."""
    first = await receive()
    if first["type"] == "http.request" and not first.get("more_body", False):
        body: bytes = first.get("body", b"")
        if len(body) <= SYNC_LIMIT:
            return body
    return await _render.read_limited(
        declared, _render.asgi_chunks(receive, first), SYNC_LIMIT, too_large_sync
    )


async def _send(out: InvokeOutcome, send: Send) -> None:
    raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in outcome_headers(out).items()]
    if out.status == 200:
        raw.append((b"content-type", out.content_type.encode("latin-1")))
    if out.status != 204:
        raw.append((b"content-length", str(len(out.payload)).encode()))
    await send({"type": "http.response.start", "status": out.status, "headers": raw})
    await send({"type": "http.response.body", "body": out.payload})
