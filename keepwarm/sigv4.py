"""AWS Signature Version 4: the canonical request and the signature, for both directions.

Why one module: ``keepwarm serve --auth sigv4`` verifies signatures (``lambda_api/auth.py``) and
``keepwarm invoke --endpoint`` makes them (``cli/remote.py``); one computation serves both, so
the client cannot drift from what the server accepts. Standard library only: the CLI signs one
request without importing botocore (tests check it signs exactly as botocore does).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Request:
    """A request as it travels: path and query as sent (percent-encoded once), all its headers."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, keeping a trailing slash (as botocore does before signing)."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment not in (".", ""):
            out.append(segment)
    result = "/" + "/".join(out)
    if path.endswith("/") and result != "/":
        result += "/"
    return result


def canonical_uri(raw_path: str) -> str:
    """The path as sent (already percent-encoded once), normalised and encoded once more:
    every service but S3 double-encodes."""
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        key, _, value = part.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(headers: Iterable[tuple[str, str]], signed: list[str]) -> str:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in signed)


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(
    request: Request, signed: list[str], secret: str, amz_date: str, region: str, service: str
) -> str:
    """The hex signature of ``request`` over the ``signed`` header names (lower case, sorted),
    scoped to ``amz_date``'s day."""
    canonical = "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            canonical_headers(request.headers, signed),
            ";".join(signed),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )
    date = amz_date[:8]
    to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            f"{date}/{region}/{service}/aws4_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Signer:
    """Signs requests with one set of credentials for one region and service."""

    credentials: Credentials
    region: str
    service: str = SERVICE

    def headers(self, request: Request, now: float) -> dict[str, str]:
        """The headers to add to ``request``: ``X-Amz-Date``, ``X-Amz-Security-Token`` with
        temporary credentials, and ``Authorization``. Every header of ``request`` is signed,
        so it must carry ``Host`` as it will be sent."""
        amz_date = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime(AMZ_DATE)
        added = {"X-Amz-Date": amz_date}
        if self.credentials.token:
            added["X-Amz-Security-Token"] = self.credentials.token
        every = [*request.headers, *added.items()]
        signed = sorted({name.lower() for name, _ in every})
        whole = Request(request.method, request.raw_path, request.raw_query, every, request.body)
        hexsig = signature(
            whole, signed, self.credentials.secret_key, amz_date, self.region, self.service
        )
        scope = f"{amz_date[:8]}/{self.region}/{self.service}/aws4_request"
        added["Authorization"] = (
            f"{ALGORITHM} Credential={self.credentials.access_key}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, Signature={hexsig}"
        )
        return added
