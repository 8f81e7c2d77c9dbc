"""Routing misses on a real ``keepwarm serve``: every one is answered in AWS's error shape.

A trailing slash used to get Starlette's bare ``307`` redirect (no ``x-amzn-ErrorType``, no
JSON, and a redirect Lambda never sends); a wrong method got a 405 without the ``Allow`` header
HTTP requires of one.
"""

from __future__ import annotations

import http.client
import json

from tests.lambda_api.kw_server import Server

SLASHED = [
    ("GET", "/2015-03-31/functions/"),
    ("GET", "/2015-03-31/functions/f/configuration/"),
    ("POST", "/2015-03-31/functions/f/invocations/"),
    ("GET", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f/"),
]
WRONG_METHOD = [
    ("PUT", "/2015-03-31/functions/f", "DELETE, GET, HEAD"),
    ("PATCH", "/2015-03-31/functions", "GET, HEAD, POST"),
    ("POST", "/2015-03-31/functions/f/configuration", "GET, HEAD, PUT"),
    ("DELETE", "/2019-09-25/functions/f/event-invoke-config/list", "GET, HEAD"),
]


def _ask(server: Server, method: str, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    body = b"{}" if method in ("POST", "PUT") else None
    conn.request(method, path, body)
    return conn.getresponse()


def test_a_trailing_slash_is_an_unknown_operation_not_a_redirect(server: Server) -> None:
    for method, path in SLASHED:
        resp = _ask(server, method, path)
        body = json.loads(resp.read())
        assert (resp.status, resp.getheader("Location")) == (404, None), path
        assert resp.getheader("x-amzn-ErrorType") == "UnknownOperationException"
        assert resp.getheader("x-amzn-RequestId")
        assert body["Type"] == "User" and body["message"]


def test_a_wrong_method_is_a_405_naming_every_allowed_one(server: Server) -> None:
    """Starlette's own 405 named only the first route's methods (one route per method here)."""
    for method, path, allow in WRONG_METHOD:
        resp = _ask(server, method, path)
        body = json.loads(resp.read())
        assert (resp.status, resp.getheader("Allow")) == (405, allow), path
        assert resp.getheader("x-amzn-ErrorType") == "UnknownOperationException"
        assert body["Type"] == "User"
    for path in ("/2016-08-19/account-settings/", "/2016-08-19/account-settings"):
        resp = _ask(server, "GET", path)  # the model's path ends with "/"; both spellings answer
        assert resp.status == 200 and "AccountLimit" in json.loads(resp.read()), path
