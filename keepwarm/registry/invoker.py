"""Invoke: from a request (name, headers, payload bytes) to a result, a queued event or a check.

Why not in the HTTP layer: which header values are valid, which limit applies to which
invocation type, what a DryRun checks and what Tail returns are Lambda's rules; the HTTP handler
only copies headers in and out.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

import orjson

from keepwarm.asyncq.dispatcher import Dispatcher
from keepwarm.asyncq.store import Event
from keepwarm.config import constraint
from keepwarm.errors import SYNC_LIMIT, InvalidRequestContent, RequestTooLarge, too_large_sync
from keepwarm.invocation import Invocation, request_id, trace_id
from keepwarm.observe.logs import tail
from keepwarm.registry.names import FunctionRef
from keepwarm.registry.service import FunctionService

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
    trace_header: str | None = None  # X-Amzn-Trace-Id: the caller's trace, propagated
    request_id: str | None = None  # one already handed out (a function URL's event names it)


@dataclass(frozen=True)
class InvokeOutcome:
    status: int
    request_id: str
    payload: bytes = b""
    content_type: str = "application/json"
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None


_CANNOT_PARSE = "Could not parse request body into json: Could not parse payload into json: "
MAX_DEPTH = 1024  # orjson's; deeper documents are refused, never a RecursionError (a 500)
# A JSON string, or one of the constants Python's json accepts and Lambda's parser does not.
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


class _NonStandard(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> None:
    raise _NonStandard(token)


def check_payload(payload: bytes) -> bytes:
    """Lambda accepts only JSON (RFC 8259: no ``NaN``, no ``Infinity``); empty is ``{}``.

    orjson first (every invocation pays this check: ~40x faster on a small payload, more on a
    big one); what it refuses goes to ``json``, which also accepts a BOM and lone surrogate
    escapes, as Lambda's parser does, and words the error.
    """
    if not payload.strip():
        return b"{}"
    try:
        orjson.loads(payload)
        return payload
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(payload, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise InvalidRequestContent(
            f"{_CANNOT_PARSE}Invalid UTF-8 byte at position {exc.start}"
        ) from exc
    except _NonStandard as exc:
        raise _non_standard(payload, exc.token) from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequestContent(
            f"{_CANNOT_PARSE}{exc.msg}\n {_source(payload, exc.lineno, exc.colno)}"
        ) from exc
    except RecursionError as exc:
        raise InvalidRequestContent(
            f"{_CANNOT_PARSE}Document nesting depth exceeds the maximum allowed ({MAX_DEPTH})"
        ) from exc
    return payload


def _source(payload: bytes, line: int, column: int) -> str:
    snippet = payload[:200].decode(errors="replace")
    return f'at [Source: (byte[])"{snippet}"; line: {line}, column: {column}]'


def _non_standard(payload: bytes, token: str) -> InvalidRequestContent:
    """Where the first non-standard constant sits, found by a regex, not a Python loop: this
    runs on any payload a client sends, up to 6 MB."""
    text = payload.decode("utf-8-sig", errors="replace")
    found = next((m for m in _CONSTANT.finditer(text) if m.group(1)), None)
    at = found.start(1) if found else 0
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    return InvalidRequestContent(
        f"{_CANNOT_PARSE}Non-standard token '{token}': enable "
        f"`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow\n {_source(payload, line, column)}"
    )


def decode_client_context(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > CLIENT_CONTEXT_LIMIT:
        raise constraint(
            raw, "clientContext", f"have length less than or equal to {CLIENT_CONTEXT_LIMIT}"
        )
    try:
        text = base64.b64decode(raw, validate=True).decode()
        if not isinstance(json.loads(text), dict):  # runtimes read members: 42 broke them
            raise ValueError("not an object")
    except (binascii.Error, ValueError, RecursionError) as exc:
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
            return InvokeOutcome(204, request_id())
        if req.invocation_type == "Event":
            return await self._enqueue(req, payload, target.name)
        invocation = Invocation(
            payload=payload,
            request_id=req.request_id or request_id(),
            invoked_arn=target.invoked_arn,
            client_context=decode_client_context(req.client_context),
            trace_id=req.trace_header or trace_id(),
        )
        result = await self.service.runtime.run(target.name, invocation, target.version)
        log_result = None
        if req.log_type == "Tail":
            log_result = base64.b64encode(tail(result.logs, result.request_id)).decode()
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
