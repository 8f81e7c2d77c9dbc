"""AWS's REST-JSON shapes: the only place an error becomes a status code and a JSON body.

Why one place: botocore reads the error code from ``x-amzn-ErrorType`` and the message from the
body's ``message``; every handler raising ``keepwarm.errors`` types and this module rendering
them is what keeps the shapes identical across the ~30 operations.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Message, Receive

from keepwarm.errors import (
    InvalidRequestContent,
    RequestTooLarge,
    ServiceError,
    http_status,
    too_large_sync,
)
from keepwarm.lambda_api import shapes

JSON = "application/json"
CONTROL_LIMIT = 69_905_067  # a 50 MB zip, base64-encoded, as Lambda's CreateFunction allows
DRAIN_LIMIT = 128 * 1024 * 1024


def new_request_id() -> str:
    return str(uuid.uuid4())


def json_response(data: Any, status: int = 200, request_id: str | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status,
        {"x-amzn-RequestId": request_id or new_request_id()},
        media_type=JSON,
    )


def empty(status: int = 204, request_id: str | None = None) -> Response:
    return Response(b"", status, {"x-amzn-RequestId": request_id or new_request_id()})


def zip_response(package: bytes | Path) -> Response:
    """A code or layer package: made on request (bytes) or the zip kept on disk."""
    if isinstance(package, bytes):
        return Response(package, media_type="application/zip")
    return FileResponse(package, media_type="application/zip")


def error_response(error: ServiceError, request_id: str | None = None) -> Response:
    headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": request_id or new_request_id()}
    return Response(json.dumps(error.body()), http_status(error), headers, media_type=JSON)


def http_error_response(exc: HTTPException, allow: str | None = None) -> Response:
    """Routing misses (unknown path, wrong method), still in AWS's error shape; a 405 names
    the methods the path has (``Allow``, which HTTP requires of a 405)."""
    code = "UnknownOperationException" if exc.status_code in (404, 405) else "ServiceException"
    body = {"Type": "User", "message": f"{exc.detail}"}
    headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": new_request_id()}
    if allow:
        headers["Allow"] = allow
    return Response(json.dumps(body), exc.status_code, headers, media_type=JSON)


async def read_body(request: Request, limit: int, too_large: Callable[[], ServiceError]) -> bytes:
    return await read_limited(
        request.headers.get("content-length"), request.stream(), limit, too_large
    )


class ClientGone(Exception):
    """The client went away before sending the whole body: nobody to answer."""


async def asgi_chunks(
    receive: Receive,
    first: Message | None = None,
) -> AsyncIterator[bytes]:
    """A raw ASGI request body, chunk by chunk (``first``: a message already received), for
    ``read_limited`` on the paths served below Starlette."""
    message = first
    while True:
        if message is None:
            message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return
        message = None


async def read_limited(
    declared: str | None,
    chunks: AsyncIterator[bytes],
    limit: int,
    too_large: Callable[[], ServiceError],
) -> bytes:
    """The body, refusing to buffer more than ``limit`` bytes.

    An oversize body is still read (and dropped) up to a cap, so the client gets the 413
    instead of a connection reset while it is still sending.
    """
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
        raise too_large()
    kept: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > DRAIN_LIMIT:
            raise too_large()
        if size <= limit:
            kept.append(chunk)
    if size > limit:
        raise too_large()
    return b"".join(kept)


def too_large_for(operation: str | None) -> ServiceError:
    """AWS's 413 names the operation: "... bytes for the CreateFunction operation" (Invoke's
    bound is its 6 MB payload)."""
    if operation in ("Invoke", "InvokeAsync"):
        return too_large_sync()
    named = f"the {operation} operation" if operation else "the operation"
    return RequestTooLarge(f"Request must be smaller than {CONTROL_LIMIT} bytes for {named}")


async def read_json(request: Request, operation: str) -> dict[str, Any]:
    """A control-plane request body: a JSON object (empty body → ``{}``) whose members have the
    ``operation``'s types (``shapes``)."""
    body = await read_body(request, CONTROL_LIMIT, lambda: too_large_for(operation))
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequestContent("Could not parse request body into json: expected an object")
    shapes.check(operation, data)
    return data
