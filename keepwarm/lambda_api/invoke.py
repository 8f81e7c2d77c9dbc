"""Invoke and InvokeAsync handlers: headers in, ``Invoker`` call, headers out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from keepwarm.errors import SYNC_LIMIT, ServiceFailure, too_large_sync
from keepwarm.lambda_api import _render
from keepwarm.lambda_api.backend import Backend
from keepwarm.registry.invoker import InvokeOutcome, InvokeRequest
from keepwarm.registry.names import parse_function


def backend(request: Request) -> Backend:
    value: Backend = request.app.state.backend
    return value


def outcome_headers(out: InvokeOutcome) -> dict[str, str]:
    headers = {"x-amzn-RequestId": out.request_id}
    if out.executed_version is not None:
        headers["X-Amz-Executed-Version"] = out.executed_version
    if out.function_error is not None:
        headers["X-Amz-Function-Error"] = out.function_error
    if out.log_result is not None:
        headers["X-Amz-Log-Result"] = out.log_result
    return headers


def _response(out: InvokeOutcome) -> Response:
    media = out.content_type if out.status == 200 else None
    return Response(out.payload, out.status, outcome_headers(out), media_type=media)


async def run_invoke(
    b: Backend, name: str, qualifier: str | None, body: bytes, headers: Mapping[str, str]
) -> InvokeOutcome | Response:
    """The Invoke operation once the body is read; shared by Starlette and the fast path."""
    req = InvokeRequest(
        parse_function(name, qualifier, b.service.server.region),
        body,
        headers.get("x-amz-invocation-type", "RequestResponse"),
        headers.get("x-amz-log-type", "None"),
        headers.get("x-amz-client-context"),
        headers.get("x-amzn-trace-id"),
    )
    try:
        return await b.invoker.invoke(req)
    except asyncio.CancelledError:
        if not b.shutting_down:
            raise
        return _render.error_response(
            ServiceFailure("keepwarm is shutting down: the invocation did not finish in time.")
        )


async def invoke(request: Request) -> Response:
    """POST /2015-03-31/functions/{FunctionName}/invocations (see also fast_invoke)."""
    body = await _render.read_body(request, SYNC_LIMIT, too_large_sync)
    name, qualifier = request.path_params["FunctionName"], request.query_params.get("Qualifier")
    out = await run_invoke(backend(request), name, qualifier, body, request.headers)
    return out if isinstance(out, Response) else _response(out)


async def invoke_async(request: Request) -> Response:
    """POST /2014-11-13/functions/{FunctionName}/invoke-async/ (deprecated)"""
    body = await _render.read_body(request, SYNC_LIMIT, too_large_sync)
    b = backend(request)
    ref = parse_function(request.path_params["FunctionName"], None, b.service.server.region)
    out = await b.invoker.invoke_async_legacy(ref, body)
    return Response(
        out.payload, 202, {"x-amzn-RequestId": out.request_id}, media_type="application/json"
    )
