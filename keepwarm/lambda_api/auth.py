"""AWS Signature Version 4 verification for the HTTP API, with keys from a credentials file.

Why our own verifier rather than botocore's signer: botocore is a client library (a dev
dependency here) and signing is the easy direction; verifying must treat every header as hostile
and say *why* a request fails in AWS's words, so SDKs and the CLI surface the same errors they
would against Lambda. The verifier is pure (request parts in, an ``AuthError`` or the access key
out); ``SigV4Middleware`` is the thin ASGI layer that buffers the body, asks it, and either
replays the request to the app or answers 403 in AWS's REST-JSON error shape.

What AWS answers (a 403 with ``x-amzn-ErrorType`` and ``{"message": ...}``):
no ``Authorization`` → MissingAuthenticationTokenException "Missing Authentication Token";
a malformed one → IncompleteSignatureException; an unknown access key, or an
``X-Amz-Security-Token`` that is not the key's (a session token sent with a long-term key, or
a temporary key's token missing or wrong) → UnrecognizedClientException "The security token
included in the request is invalid.";
a bad signature, wrong scope, or an ``X-Amz-Date`` more than 5 minutes away from now →
InvalidSignatureException ("The request signature we calculated does not match ...",
"Signature expired: ... is now earlier than ... (... - 5 min.)").
"""

from __future__ import annotations

import configparser
import datetime
import hmac
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwarm.config import DEFAULT_REGION
from keepwarm.lambda_api._render import error_response, too_large_for
from keepwarm.sigv4 import ALGORITHM, AMZ_DATE, SERVICE, Request, signature

MAX_SKEW_S = 300
MAX_BODY = 70 * 1024 * 1024  # a little over CreateFunction's 69,905,067-byte limit
UNSIGNED_PATHS = ("/_keepwarm/health", "/openapi.json", "/_keepwarm/code/", "/_keepwarm/layers/")
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_PARAM = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")


class AuthError(Exception):
    """A request that failed authentication; ``code`` is AWS's error type (all are 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parse(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read credentials file {path}: {exc}") from exc
    return parser


def first_profile(path: Path) -> str | None:
    """The first section of a credentials file with a key pair: a profile clients can name
    (``--profile``) with the file as their ``AWS_SHARED_CREDENTIALS_FILE``."""
    parser = _parse(path)
    for section in parser.sections():
        if (
            parser.get(section, "aws_access_key_id", fallback="").strip()
            and parser.get(section, "aws_secret_access_key", fallback="").strip()
        ):
            return section
    return None


def load_credentials(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Access key id → secret key, and → session token for the keys that have one (temporary
    credentials), from an INI file shaped like ``~/.aws/credentials``."""
    parser = _parse(path)
    keys: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for section in parser.sections():
        key = parser.get(section, "aws_access_key_id", fallback="").strip()
        secret = parser.get(section, "aws_secret_access_key", fallback="").strip()
        token = parser.get(section, "aws_session_token", fallback="").strip()
        if key and secret:
            if key in keys:  # which secret would win is anyone's guess: refuse the file
                raise ValueError(
                    f"cannot read credentials file {path}: access key {key} appears in more "
                    "than one section"
                )
            keys[key] = secret
            if token:
                tokens[key] = token
    if not keys:
        raise ValueError(f"no aws_access_key_id/aws_secret_access_key pair in {path}")
    return keys, tokens


@dataclass(frozen=True)
class Claim:
    """What a request's headers say about its signature, checked as far as they can be."""

    key_id: str
    signed: list[str]
    signature: str
    date: str
    amz_date: str


@dataclass(frozen=True)
class Verifier:
    """Checks one request's SigV4 ``Authorization`` header against known keys."""

    keys: dict[str, str]
    region: str = DEFAULT_REGION
    now: Callable[[], float] = time.time
    tokens: dict[str, str] = field(default_factory=dict)  # the temporary keys' session tokens

    def verify(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> str:
        """The access key that signed the request; raises ``AuthError`` otherwise."""
        claim = self.precheck({name.lower(): value for name, value in headers})
        return self.check_signature(claim, method, raw_path, raw_query, headers, body)

    def check_signature(
        self,
        claim: Claim,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> str:
        """The signature itself, once ``precheck`` passed and the body is in."""
        request = Request(method, raw_path, raw_query, headers, body)
        secret = self.keys[claim.key_id]
        expected = signature(request, claim.signed, secret, claim.amz_date, self.region, SERVICE)
        if not hmac.compare_digest(expected, claim.signature):
            raise AuthError("InvalidSignatureException", MISMATCH)
        return claim.key_id

    def precheck(self, lower: dict[str, str]) -> Claim:
        """Everything but the signature itself, from the headers alone: the middleware runs
        it before reading a body, so an unknown key, a stale date or a malformed header never
        makes the server hold a large body (up to ``MAX_BODY``) for anyone.
        """
        auth = lower.get("authorization")
        if not auth:
            raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
        credential, signed, signature = self._parse(auth)
        amz_date = lower.get("x-amz-date", "")
        if not amz_date:
            raise AuthError(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                f"header. Authorization={auth}",
            )
        key_id, date, region, service, terminator = self._scope(credential, auth)
        if key_id not in self.keys or not self._token_matches(key_id, lower):
            raise AuthError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if service != SERVICE or terminator != "aws4_request":
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE}'. ",
            )
        if region != self.region:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{region}'. ",
            )
        self._check_time(amz_date, date)
        missing = [h for h in ("host", "x-amz-date") if h not in signed]
        if missing or any(h not in lower for h in signed):
            raise AuthError("InvalidSignatureException", MISMATCH)
        return Claim(key_id, signed, signature, date, amz_date)

    def _token_matches(self, key_id: str, lower: dict[str, str]) -> bool:
        """A long-term key takes no session token; a temporary key takes exactly its own."""
        sent, expected = lower.get("x-amz-security-token"), self.tokens.get(key_id)
        if sent is None or expected is None:
            return sent is expected
        return hmac.compare_digest(sent.encode(), expected.encode())

    @staticmethod
    def _parse(auth: str) -> tuple[str, list[str], str]:
        algorithm, _, rest = auth.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise AuthError(
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential' parameter. Authorization header "
                f"requires 'Signature' parameter. Authorization={auth}",
            )
        params: dict[str, str] = {}
        for item in rest.split(","):
            found = _PARAM.fullmatch(item)
            if found:
                params[found[1]] = found[2]
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not params.get(p)]
        if missing:
            text = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
            raise AuthError("IncompleteSignatureException", f"{text} Authorization={auth}")
        signed = params["SignedHeaders"].lower().split(";")
        return params["Credential"], signed, params["Signature"].lower()

    @staticmethod
    def _scope(credential: str, auth: str) -> tuple[str, str, str, str, str]:
        parts = credential.split("/")
        if len(parts) != 5 or not re.fullmatch(r"\d{8}", parts[1]):
            raise AuthError(
                "IncompleteSignatureException",
                f"Credential must have exactly 5 slash-delimited elements, e.g. "
                f"keyid/date/region/service/term, got '{credential}'",
            )
        return parts[0], parts[1], parts[2], parts[3], parts[4]

    def _check_time(self, amz_date: str, scope_date: str) -> None:
        try:
            when = datetime.datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=datetime.UTC)
        except ValueError:
            raise AuthError(
                "IncompleteSignatureException",
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See "
                "http://en.wikipedia.org/wiki/ISO_8601",
            ) from None
        if amz_date[:8] != scope_date:
            raise AuthError(
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        now = datetime.datetime.fromtimestamp(self.now(), datetime.UTC)
        skew = datetime.timedelta(seconds=MAX_SKEW_S)
        if when < now - skew:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {_fmt(now - skew)} "
                f"({_fmt(now)} - 5 min.)",
            )
        if when > now + skew:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {_fmt(now + skew)} "
                f"({_fmt(now)} + 5 min.)",
            )


def _fmt(moment: datetime.datetime) -> str:
    return moment.strftime(AMZ_DATE)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SigV4Middleware:
    """Lets through only requests signed with a known key (plus the few public paths)."""

    def __init__(self, app: ASGIApp, verifier: Verifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNSIGNED_PATHS):
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            claim = self.verifier.precheck({k.lower(): v for k, v in headers})
            body, more = await _read(receive)
            if more:
                from keepwarm.lambda_api.routes import operation_at  # the rare path only

                too_large = error_response(too_large_for(operation_at(scope)))
                await too_large(scope, receive, send)  # as the operation itself answers
                return
            path = raw_path.partition("?")[0]
            self.verifier.check_signature(claim, scope["method"], path, query, headers, body)
        except AuthError as exc:
            await _reply(send, 403, exc.code, exc.message)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, or (what was read, True) once it passes ``MAX_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for a disconnect, as the app expects

    return again


async def _reply(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-errortype", code.encode()),
                (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
