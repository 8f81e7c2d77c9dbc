"""Refuse requests from web pages while keepwarm serves without signatures.

Why: without ``--auth sigv4`` whoever reaches the port can create and run code. Serving on
loopback only keeps other machines out, not the developer's own browser: any page may send a
"simple" cross-site POST (``text/plain``, no CORS preflight) to 127.0.0.1, and a page whose
DNS name rebinds to 127.0.0.1 may even read the answers. A browser marks both: the first
carries an ``Origin`` header, the second a ``Host`` that is not a loopback name. AWS clients
(the SDKs, the CLI) send neither, so refusing them costs those nothing. With ``--insecure`` on
another address, clients name the server however they reach it: only ``Origin`` is checked.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from keepwarm.errors import AccessDenied
from keepwarm.lambda_api import _render

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@functools.lru_cache(maxsize=256)
def is_loopback_name(host: str) -> bool:
    """``localhost``, a 127/8 address or ``::1`` (brackets and port allowed).

    Cached: every request's ``Host`` comes here, nearly always the same few values, and
    parsing an address costs ~2 µs (a warm invocation's server time is ~100 µs)."""
    if host.startswith("["):
        name = host[1 : host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _origin_host(origin: str) -> str:
    return origin.partition("://")[2].split("/", 1)[0]


def refusal(headers: list[tuple[bytes, bytes]], check_host: bool) -> str | None:
    for key, value in headers:
        if key == b"origin":
            origin = value.decode("latin-1")
            if not is_loopback_name(_origin_host(origin)):
                return f"a web page (Origin: {origin})"
        elif key == b"host" and check_host:
            host = value.decode("latin-1")
            if not is_loopback_name(host):
                return f"a name that is not this machine's loopback (Host: {host})"
    return None


class BrowserGuard:
    def __init__(self, app: ASGIApp, check_host: bool) -> None:
        self.app = app
        self.check_host = check_host

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            why = refusal(scope["headers"], self.check_host)
            if why is not None:
                error = AccessDenied(
                    f"keepwarm refuses requests from {why} when serving without --auth sigv4: "
                    "a browser could otherwise create and run code here."
                )
                await _render.error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
