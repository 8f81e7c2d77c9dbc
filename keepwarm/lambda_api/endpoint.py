"""The URLs keepwarm hands out: the endpoint printed at start and GetFunction's ``Code.Location``.

Why not ``f"http://{host}:{port}"``: an IPv6 literal needs brackets (``http://[::1]:9001``), and
a wildcard bind (``0.0.0.0``, ``::``) is an address to listen on, not one to connect to. A
client is best served by the name it already reached the server under (its ``Host`` header),
which also holds through a port forward (``ssh -L``, ``docker -p``) where the bound address and
port mean nothing on the client's side.
"""

from __future__ import annotations

import ipaddress
import re

_AUTHORITY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(:[0-9]{1,5})?")


def is_wildcard(host: str) -> bool:
    if host == "":
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as it is written in a URL: IPv6 literals in brackets, a zone's ``%`` escaped."""
    if ":" in host and not host.startswith("["):
        return f"[{host.replace('%', '%25')}]"
    return host


def connectable(host: str) -> str:
    """An address a client on this machine can connect to for a server bound to ``host``: the
    loopback address of a wildcard's family, otherwise ``host`` itself."""
    if is_wildcard(host):
        return "::1" if ":" in host else "127.0.0.1"
    return host


def endpoint(host: str, port: int) -> str:
    """The URL to print for a server bound to ``host``:``port``."""
    return f"http://{url_host(connectable(host))}:{port}"


def from_host_header(host: str | None, fallback: str) -> str:
    """``http://`` plus the client's ``Host`` header when it is a plain ``host[:port]``
    (anything else, or none, gives ``fallback``)."""
    if host and _AUTHORITY.fullmatch(host):
        return f"http://{host}"
    return fallback
