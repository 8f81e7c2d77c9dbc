"""A function URL's HTTP translation: a request into Lambda's payload format 2.0 event, the
function's result into an HTTP response, CORS, and the URL's own error answers.

Why pure functions of plain values: the ASGI side (``url_server``) reads the request and sends
the answer; everything AWS decides about the bytes in between is here, testable line by line.
Sources: AWS's ``urls-invocation.md`` (payloads, inference, cookies), responses recorded against
AWS (localstack ``tests/aws/services/lambda_/test_lambda.snapshot.json``, ``TestLambdaURL``,
2025-11-24), real events (aws-powertools ``tests/events/lambdaFunctionUrlEvent*.json``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from keepwarm.errors import (
    FunctionUrlError,
    ServiceError,
    UrlForbidden,
    UrlFunctionFailed,
    UrlUnknown,
    http_status,
)

JSON = "application/json"
# The request bodies Lambda passes as text; any other (none, a form, multipart, an image) is
# base64 with isBase64Encoded, as verified against HTTP APIs, whose format URLs share.
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DROPPED = {"cookie", "connection"}  # cookies have their own member; hop-by-hop stays here
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class UrlRequest:
    """One request to a function URL, as it arrived."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]  # names lower case, in the order sent
    body: bytes
    source_ip: str
    protocol: str  # "HTTP/1.1"
    domain: str  # the Host's name, without the port
    port: int

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None


@dataclass(frozen=True)
class Caller:
    """Who signed an AWS_IAM URL's request (keepwarm knows access keys, not IAM users)."""

    access_key: str
    account: str


@dataclass
class UrlResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    def add(self, headers: Iterable[tuple[str, str]]) -> UrlResponse:
        self.headers.extend(headers)
        return self


# -- the event ---------------------------------------------------------------------------------
def build_event(
    req: UrlRequest,
    url_id: str,
    request_id: str,
    trace: str,
    caller: Caller | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Payload format 2.0 as a function URL sends it: members it has no value for are left
    out (no ``body``, ``cookies`` or ``queryStringParameters`` when there is none), as in the
    events AWS sends; ``accountId`` is ``anonymous`` unless the caller signed."""
    moment = time.time() if now is None else now
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
    }
    cookies = _cookies(req)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = _headers(req, trace)
    params = _query(req.raw_query)
    if params:
        event["queryStringParameters"] = params
    event["requestContext"] = _context(req, url_id, request_id, moment, caller)
    event.update(_body(req))
    return event


def _cookies(req: UrlRequest) -> list[str]:
    return [
        part.strip()
        for name, value in req.headers
        if name == "cookie"
        for part in value.split(";")
        if part.strip()
    ]


def _headers(req: UrlRequest, trace: str) -> dict[str, str]:
    """Lower-case names, a repeated header's values joined with commas, and what Lambda's
    front end adds (``x-forwarded-*``, the trace); no TLS headers: this is plain HTTP."""
    out: dict[str, str] = {}
    for name, value in req.headers:
        if name not in _DROPPED:
            out[name] = f"{out[name]},{value}" if name in out else value
    out["x-amzn-trace-id"] = trace
    out["x-forwarded-for"] = req.source_ip
    out["x-forwarded-port"] = str(req.port)
    out["x-forwarded-proto"] = "http"
    return out


def _query(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _context(
    req: UrlRequest, url_id: str, request_id: str, moment: float, caller: Caller | None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "accountId": caller.account if caller else "anonymous",
        "apiId": url_id,
    }
    if caller is not None:
        context["authorizer"] = {"iam": _iam(caller)}
    context |= {
        "domainName": req.domain,
        "domainPrefix": url_id,
        "http": {
            "method": req.method,
            "path": req.raw_path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": req.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _clf_time(moment),
        "timeEpoch": int(moment * 1000),
    }
    return context


def _iam(caller: Caller) -> dict[str, Any]:
    """AWS names the IAM user; keepwarm has only the key, so the user is named by it."""
    return {
        "accessKey": caller.access_key,
        "accountId": caller.account,
        "callerId": caller.access_key,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{caller.account}:user/{caller.access_key}",
        "userId": caller.access_key,
    }


def _clf_time(moment: float) -> str:
    """``05/Aug/2022:08:14:39 +0000`` (English month names whatever the locale)."""
    t = time.gmtime(moment)
    clock = time.strftime("%H:%M:%S", t)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def _body(req: UrlRequest) -> dict[str, Any]:
    if not req.body:
        return {"isBase64Encoded": False}
    if is_text(req.header("content-type")):
        try:
            return {"body": req.body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass
    return {"body": base64.b64encode(req.body).decode("ascii"), "isBase64Encoded": True}


def is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES


# -- the response ------------------------------------------------------------------------------
def response_of(payload: bytes, invoke_mode: str = "BUFFERED") -> UrlResponse:
    """The HTTP answer for a function's result. A JSON object with ``statusCode`` is a
    response; anything else is the body of a 200 ``application/json`` answer: a JSON string
    as its text, any other value as compact JSON (recorded: ``"hello"`` gives ``hello``,
    ``{"hello": "world"}`` gives ``{"hello":"world"}``). Under ``RESPONSE_STREAM`` a result
    is not read as a response (AWS sends a non-streaming handler's return value as is)."""
    if invoke_mode == "RESPONSE_STREAM":
        return UrlResponse(200, payload, [("content-type", "application/octet-stream")])
    try:
        value = json.loads(payload)
    except ValueError:
        return UrlResponse(200, payload, [("content-type", JSON)])
    if isinstance(value, dict) and "statusCode" in value:
        return _structured(value)
    if isinstance(value, str):
        return UrlResponse(200, value.encode(), [("content-type", JSON)])
    return UrlResponse(200, _compact(value), [("content-type", JSON)])


def _structured(value: dict[str, Any]) -> UrlResponse:
    """``statusCode`` (a number or a numeric string), ``headers``, ``cookies`` as
    ``Set-Cookie`` headers, ``body`` (base64-decoded with ``isBase64Encoded``); a value that
    cannot be one of these makes the answer a 502, as a malformed response does on AWS."""
    try:
        status = int(value["statusCode"])
        headers = [(str(k), _text(v)) for k, v in (value.get("headers") or {}).items()]
        cookies = [("set-cookie", _cookie(c)) for c in _listed_cookies(value.get("cookies"))]
        body = _structured_body(value.get("body"), bool(value.get("isBase64Encoded")))
    except (TypeError, ValueError, AttributeError, binascii.Error):
        raise UrlFunctionFailed() from None
    if not 200 <= status <= 599 or not all(_sendable(k, v) for k, v in headers + cookies):
        raise UrlFunctionFailed()  # a final status, and headers HTTP can carry
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("content-type", JSON))
    return UrlResponse(status, body, headers + cookies)


def _structured_body(body: Any, encoded: bool) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return base64.b64decode(body, validate=True) if encoded else body.encode()
    return _compact(body)


def _sendable(name: str, value: str) -> bool:
    return bool(_TOKEN.fullmatch(name)) and not _CONTROL.search(value)


def _text(value: Any) -> str:
    """A header value: a string, a number or a boolean (anything else is a malformed
    response, not Python's text for it)."""
    if isinstance(value, bool):
        return json.dumps(value)
    if not isinstance(value, str | int | float):
        raise TypeError("a header value must be a string")
    return str(value)


def _listed_cookies(cookies: Any) -> list[Any]:
    if cookies is None:
        return []
    if not isinstance(cookies, list):
        raise TypeError("cookies must be a list of strings")
    return cookies


def _cookie(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a cookie must be a string")
    return value


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# -- CORS --------------------------------------------------------------------------------------
def is_preflight(req: UrlRequest) -> bool:
    return (
        req.method == "OPTIONS"
        and req.header("origin") is not None
        and req.header("access-control-request-method") is not None
    )


def preflight(cors: dict[str, Any], req: UrlRequest) -> UrlResponse:
    """The URL answers a browser's preflight itself, from its configuration, without invoking
    the function: a 200 allowing the origin when it and the method are allowed, else none."""
    origin = req.header("origin") or ""
    method = (req.header("access-control-request-method") or "").upper()
    allowed = origin_allowed(cors, origin) and _listed(cors.get("AllowMethods"), method, True)
    if not allowed:
        return UrlResponse(200, b"")
    headers = [("access-control-allow-origin", origin)]
    for key, name in (("AllowMethods", "methods"), ("AllowHeaders", "headers")):
        if cors.get(key):
            headers.append((f"access-control-allow-{name}", ",".join(cors[key])))
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    if cors.get("MaxAge") is not None:
        headers.append(("access-control-max-age", str(cors["MaxAge"])))
    headers.append(("vary", "Origin"))
    return UrlResponse(200, b"", headers)


def cors_headers(cors: dict[str, Any] | None, origin: str | None) -> list[tuple[str, str]]:
    """What the URL adds to every answer for an allowed origin; the function's own CORS
    headers are kept beside them (AWS sends both, duplicates included)."""
    if not cors or origin is None or not origin_allowed(cors, origin):
        return []
    headers = [("access-control-allow-origin", origin)]
    if cors.get("ExposeHeaders"):
        headers.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    headers.append(("vary", "Origin"))
    return headers


def origin_allowed(cors: dict[str, Any], origin: str) -> bool:
    return _listed(cors.get("AllowOrigins"), origin, False)


def _listed(values: list[str] | None, wanted: str, upper: bool) -> bool:
    norm = [v.upper() if upper else v for v in values or []]
    return "*" in norm or wanted in norm


# -- the URL's own error answers ---------------------------------------------------------------
def error_response(error: ServiceError, request_id: str | None = None) -> UrlResponse:
    """What the URL answers when no function result is the answer (AWS's words and shapes:
    ``{"Message":null}`` for an unknown URL, ``Internal Server Error`` for a failed function,
    a signature check's ``{"message": ...}``); any other error keeps its status and code."""
    status = http_status(error)
    if isinstance(error, UrlFunctionFailed):
        body = error.message.encode()
        headers = [("content-type", JSON)]
    else:
        key = error.key if isinstance(error, FunctionUrlError) else "Message"
        code = error.error_code if isinstance(error, UrlForbidden) else error.code
        if isinstance(error, UrlForbidden) and code != error.code:
            key = "message"  # a signature check's own error, as Lambda words those
        message = None if isinstance(error, UrlUnknown) else error.message
        body = json.dumps({key: message}, separators=(",", ":")).encode()
        headers = [("content-type", JSON), ("x-amzn-errortype", code)]
    if request_id:
        headers.append(("x-amzn-requestid", request_id))
    return UrlResponse(status, body, headers)
