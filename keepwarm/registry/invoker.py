"""Invoke: from a request (name, headers, payload bytes) to a result, a queued event or a check.

Why not in the HTTP layer: which header values are valid, which limit applies to which
invocation type, what a DryRun checks and what Tail returns are Lambda's rules; the HTTP handler
only copies headers in and out.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import orjson

from keepwarm.asyncq.dispatcher import Dispatcher
from keepwarm.asyncq.store import Event
from keepwarm.errors import InvalidRequestContent, RequestTooLarge
from keepwarm.invocation import Invocation
from keepwarm.observe.logs import tail
from keepwarm.registry.names import FunctionRef, constraint
from keepwarm.registry.service import FunctionService

SYNC_LIMIT = 6_291_456
ASYNC_LIMIT = 1_048_576
CLIENT_CONTEXT_LIMIT = 3583
INVOCATION_TYPES = ("Event", "RequestResponse", "DryRun")
LOG_TYPES = ("None", "Tail")


@dataclass(frozen=True)
class InvokeRequest:
    ref: FunctionRef
    payload: bytes
    invocation_type: str = "RequestResponse"
    log_type: str = "None"
    client_context: str | None = None


@dataclass(frozen=True)
class InvokeOutcome:
    status: int
    request_id: str
    payload: bytes = b""
    content_type: str = "application/json"
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None


def too_large_sync() -> RequestTooLarge:
    return RequestTooLarge(
        f"Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation"
    )


def check_payload(payload: bytes) -> bytes:
    """Lambda accepts only JSON; an empty body is the empty object.

    orjson first (every invocation pays this check: ~40x faster on a small payload, more on a
    big one); what it refuses goes to ``json``, which accepts everything orjson does and more
    (NaN, lone surrogates, a BOM), decides, and words the error.
    """
    if not payload.strip():
        return b"{}"
    try:
        orjson.loads(payload)
        return payload
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(payload)
    except UnicodeDecodeError as exc:
        raise InvalidRequestContent(
            "Could not parse request body into json: Could not parse payload into json: "
            f"Invalid UTF-8 byte at position {exc.start}"
        ) from exc
    except json.JSONDecodeError as exc:
        snippet = payload[:200].decode(errors="replace")
        raise InvalidRequestContent(
            "Could not parse request body into json: Could not parse payload into json: "
            f'{exc.msg}\n at [Source: (byte[])"{snippet}"; line: {exc.lineno}, '
            f"column: {exc.colno}]"
        ) from exc
    return payload


def decode_client_context(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > CLIENT_CONTEXT_LIMIT:
        raise constraint(
            raw, "clientContext", f"have length less than or equal to {CLIENT_CONTEXT_LIMIT}"
        )
    try:
        text = base64.b64decode(raw, validate=True).decode()
        json.loads(text)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestContent(
            "Client context must be a valid Base64-encoded JSON object."
        ) from exc
    return text


class Invoker:
    def __init__(self, service: FunctionService, dispatcher: Dispatcher) -> None:
        self.service = service
        self.dispatcher = dispatcher

    async def invoke(self, req: InvokeRequest) -> InvokeOutcome:
        if req.invocation_type not in INVOCATION_TYPES:
            raise constraint(
                req.invocation_type, "invocationType",
                "satisfy enum value set: [Event, RequestResponse, DryRun]",
            )  # fmt: skip
        if req.log_type not in LOG_TYPES:
            raise constraint(req.log_type, "logType", "satisfy enum value set: [None, Tail]")
        if len(req.payload) > SYNC_LIMIT:
            raise too_large_sync()
        target = self.service.target(req.ref)
        payload = check_payload(req.payload)
        if req.invocation_type == "DryRun":
            return InvokeOutcome(204, Invocation(b"").request_id)
        if req.invocation_type == "Event":
            return await self._enqueue(req, payload, target.name)
        invocation = Invocation(
            payload=payload,
            invoked_arn=target.invoked_arn,
            client_context=decode_client_context(req.client_context),
        )
        result = await self.service.runtime.run(target.name, invocation, target.version)
        log_result = None
        if req.log_type == "Tail":
            log_result = base64.b64encode(tail(result.logs)).decode()
        return InvokeOutcome(
            200,
            result.request_id,
            result.payload,
            result.content_type,
            result.executed_version,
            result.function_error,
            log_result,
        )

    async def _enqueue(self, req: InvokeRequest, payload: bytes, name: str) -> InvokeOutcome:
        if len(payload) > ASYNC_LIMIT:
            raise RequestTooLarge(
                f"{len(payload)} byte payload is too large for the Event invocation type "
                f"(limit {ASYNC_LIMIT} bytes)"
            )
        event = Event(name, req.ref.qualifier, payload)
        await self.dispatcher.enqueue(event)
        return InvokeOutcome(202, event.id)

    async def invoke_async_legacy(self, ref: FunctionRef, payload: bytes) -> InvokeOutcome:
        """InvokeAsync (deprecated): an Event invocation answered with ``{"Status": 202}``."""
        outcome = await self.invoke(InvokeRequest(ref, payload, "Event"))
        return InvokeOutcome(202, outcome.request_id, b'{"Status": 202}')
