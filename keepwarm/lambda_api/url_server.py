"""Serving function URLs: a request whose ``Host`` is ``<url-id>.lambda-url.<region>.localhost``
goes to that URL's function, whatever its method and path; every other request to the API.

Why first, in front of the signature check and the browser guard: a URL has its own auth
(``AuthType``: NONE is public, AWS_IAM wants SigV4) and its own CORS, so neither of the API's
gates applies to it, and no path of the API (not even Invoke's, served by ``FastInvoke``) may
shadow one of the URL's. The invocation is Invoke's own (``Invoker``): throttles, timeouts,
reserved concurrency and the log lines are the same.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from keepwarm.errors import (
    SYNC_LIMIT,
    RequestTooLarge,
    ServiceError,
    ServiceFailure,
    Throttled,
    UrlForbidden,
    UrlFunctionFailed,
    UrlThrottled,
    UrlTooLarge,
    UrlUnknown,
    too_large_sync,
)
from keepwarm.invocation import request_id, trace_id
from keepwarm.lambda_api import _render
from keepwarm.lambda_api.auth import AuthError, Verifier
from keepwarm.lambda_api.function_url import (
    Caller,
    UrlRequest,
    UrlResponse,
    build_event,
    cors_headers,
    error_response,
    is_preflight,
    preflight,
    response_of,
)
from keepwarm.registry.invoker import InvokeRequest
from keepwarm.registry.names import FunctionRef
from keepwarm.registry.url_rules import URL_ID, UrlConfig

if TYPE_CHECKING:
    from keepwarm.config import ServerConfig
    from keepwarm.lambda_api.backend import Backend


HOST = re.compile(r"(?P<id>[^.]+)\.lambda-url\.(?P<region>[^.]+)\.localhost\.?(?::\d+)?")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]*)/")
_FRAMING = {"content-length", "transfer-encoding", "connection"}
_NO_CONTENT = (204, 304)
log = logging.getLogger("keepwarm.serve")


def url_host(headers: list[tuple[bytes, bytes]]) -> re.Match[str] | None:
    """The URL a request's ``Host`` names; an API request (every Invoke) pays one substring
    test, not the pattern."""
    for key, value in headers:
        if key == b"host":
            lowered = value.lower()
            if b".lambda-url." not in lowered:
                return None
            return HOST.fullmatch(lowered.decode("latin-1"))
    return None


class FunctionUrls:
    """The server's outermost app: function URL requests here, the rest to ``app`` (the API
    behind its gates); ``api`` is the API itself, whose state holds the backend."""

    def __init__(self, app: ASGIApp, api: Any, verifier: Verifier | None = None) -> None:
        self.app = app
        self.api = api
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = url_host(scope["headers"])
            if found is not None:
                await self._serve(found, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, found: re.Match[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        backend: Backend = self.api.state.backend
        service = backend.service
        url_id = found["id"]
        target = None
        if found["region"] == service.server.region and URL_ID.fullmatch(url_id):
            target = service.url_target(url_id)
        if target is None:
            await _send(error_response(UrlUnknown("")), send)
            return
        url, ref = target
        try:
            req = await _request(scope, receive, found)
        except _render.ClientGone:
            return
        except ServiceError as exc:
            await _send(error_response(exc), send)
            return
        if url.cors and is_preflight(req):
            await _send(preflight(url.cors, req), send)
            return
        rid = request_id()
        try:
            caller = self._caller(req, service.server) if url.auth_type == "AWS_IAM" else None
            answer = await _invoke(backend, ref, url, req, rid, caller)
        except (ServiceError, asyncio.CancelledError) as exc:
            answer = error_response(_url_error(exc, backend), rid)
        except Exception as exc:
            log.error("keepwarm: internal error on function URL %s", url_id, exc_info=exc)
            answer = error_response(ServiceFailure("An internal error occurred in keepwarm."), rid)
        await _send(answer.add(cors_headers(url.cors, req.header("origin"))), send)

    def _caller(self, req: UrlRequest, server: ServerConfig) -> Caller:
        """Who signed an AWS_IAM URL's request; refused as Lambda's front end refuses it."""
        try:
            key = _signer(self.verifier, req, server.region)
        except AuthError as exc:
            if exc.code == "MissingAuthenticationTokenException":
                raise UrlForbidden() from None
            raise UrlForbidden(exc.message, exc.code) from None
        return Caller(key, server.account_id)


def _signer(verifier: Verifier | None, req: UrlRequest, region: str) -> str:
    """The access key that signed ``req`` (service ``lambda``), checked as the API's requests
    are under ``--auth sigv4``. Without it the server knows no secret, so, as for the API, any
    key signs: the signature's form, scope and date are still checked, and an unsigned
    request is still refused."""
    lower = dict(req.headers)
    if verifier is not None:
        claim = verifier.precheck(lower)
        return verifier.check_signature(
            claim, req.method, req.raw_path, req.raw_query, req.headers, req.body
        )
    given = _CREDENTIAL.search(lower.get("authorization", ""))
    key = given[1] if given else ""
    token = lower.get("x-amz-security-token")
    lenient = Verifier({key: ""}, region=region, tokens={key: token} if token else {})
    return lenient.precheck(lower).key_id


async def _invoke(
    backend: Backend,
    ref: FunctionRef,
    url: UrlConfig,
    req: UrlRequest,
    rid: str,
    caller: Caller | None,
) -> UrlResponse:
    trace = req.header("x-amzn-trace-id") or trace_id()
    event = build_event(req, url.url_id, rid, trace, caller)
    invoke = InvokeRequest(ref, orjson.dumps(event), trace_header=trace, request_id=rid)
    out = await backend.invoker.invoke(invoke)
    if out.function_error is not None:
        raise UrlFunctionFailed()
    answer = response_of(out.payload, url.mode)
    answer.headers += [("x-amzn-requestid", out.request_id), ("x-amzn-trace-id", trace)]
    return answer


def _url_error(exc: BaseException, backend: Backend) -> ServiceError:
    """Invoke's errors as a function URL answers them."""
    if isinstance(exc, asyncio.CancelledError):
        if not backend.shutting_down:
            raise exc
        return ServiceFailure("keepwarm is shutting down: the invocation did not finish in time.")
    assert isinstance(exc, ServiceError)
    if isinstance(exc, Throttled):
        return UrlThrottled()
    if isinstance(exc, RequestTooLarge):
        return UrlTooLarge(exc.message)
    return exc


async def _request(scope: Scope, receive: Receive, found: re.Match[str]) -> UrlRequest:
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
    declared = next((v for k, v in headers if k == "content-length"), None)
    body = await _render.read_limited(
        declared, _render.asgi_chunks(receive), SYNC_LIMIT, _too_large
    )
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 0)
    return UrlRequest(
        method=scope["method"],
        raw_path=raw.partition("?")[0] or "/",
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
        source_ip=str(client[0]),
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        domain=found.group(0).split(":", 1)[0].rstrip("."),
        port=int(server[1] or 0),
    )


def _too_large() -> ServiceError:
    return UrlTooLarge(too_large_sync().message)


async def _send(answer: UrlResponse, send: Send) -> None:
    """The answer in one piece; its length is the server's to say, not the function's. A 204
    or 304 has no content (RFC 9110): a body the function gave it is dropped, as a client
    would otherwise read it as the start of the next response."""
    raw = [
        (k.lower().encode("latin-1", "replace"), v.encode())
        for k, v in answer.headers
        if k.lower() not in _FRAMING
    ]
    body = b"" if answer.status in _NO_CONTENT else answer.body
    if answer.status not in _NO_CONTENT:
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
