"""The URLs keepwarm hands out (lambda_api/endpoint.py): the endpoint printed at start, the
"Try it" lines, and GetFunction's ``Code.Location``, on a real ``keepwarm serve``.

They used to be ``http://{--host}:{port}``: ``http://0.0.0.0:9001`` (an address to listen on,
not one every client can connect to) and ``http://::1:9001`` (no brackets: not a URL).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from keepwarm.lambda_api.endpoint import endpoint, from_host_header
from tests.helpers import echo_template
from tests.lambda_api.kw_server import create


def _template(tmp_path: Path) -> Path:
    return echo_template(tmp_path, "Greeting")


def _download(location: str) -> bytes:
    with urllib.request.urlopen(location, timeout=30) as resp:
        data: bytes = resp.read()
    return data


def test_a_wildcard_bind_prints_and_hands_out_addresses_clients_can_use(
    start_server: Any, tmp_path: Path
) -> None:
    srv = start_server("--host", "0.0.0.0", "--insecure", "-t", str(_template(tmp_path)))
    assert srv.printed == f"http://127.0.0.1:{srv.port}"
    stderr = srv.stderr()
    assert "every address (--host 0.0.0.0)" in stderr
    assert f"--endpoint-url http://127.0.0.1:{srv.port} " in stderr
    assert "0.0.0.0:" not in stderr

    location = srv.client().get_function(FunctionName="Greeting")["Code"]["Location"]
    assert location.startswith(f"http://127.0.0.1:{srv.port}/_keepwarm/code/Greeting/")
    package = zipfile.ZipFile(io.BytesIO(_download(location)))
    assert package.read("app.py").startswith(b"def handler")

    # Named otherwise (a port forward, another interface): the name the client used.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/2015-03-31/functions/Greeting", headers={"Host": "kw.example:8080"})
    resp = conn.getresponse()
    assert resp.status == 200
    location = json.loads(resp.read())["Code"]["Location"]
    assert location.startswith("http://kw.example:8080/_keepwarm/code/Greeting/")


def test_an_ipv6_loopback_bind_is_bracketed(start_server: Any) -> None:
    srv = start_server("--host", "::1")
    assert srv.printed == f"http://[::1]:{srv.port}"
    lam = srv.client()  # endpoint_url=http://[::1]:PORT
    created = create(lam, "six")
    location = lam.get_function(FunctionName="six")["Code"]["Location"]
    assert location.startswith(f"http://[::1]:{srv.port}/_keepwarm/code/six/")
    digest = hashlib.sha256(_download(location)).digest()
    assert base64.b64encode(digest).decode() == created["CodeSha256"]


def test_urls_for_every_kind_of_address() -> None:
    assert endpoint("127.0.0.1", 9001) == "http://127.0.0.1:9001"
    assert endpoint("0.0.0.0", 9001) == "http://127.0.0.1:9001"
    assert endpoint("", 9001) == "http://127.0.0.1:9001"
    assert endpoint("::", 9001) == "http://[::1]:9001"
    assert endpoint("::1", 9001) == "http://[::1]:9001"
    assert endpoint("fe80::1%eth0", 9001) == "http://[fe80::1%25eth0]:9001"
    assert endpoint("localhost", 9001) == "http://localhost:9001"
    fallback = "http://127.0.0.1:9001"
    assert from_host_header("[::1]:9001", fallback) == "http://[::1]:9001"
    assert from_host_header("kw.example", fallback) == "http://kw.example"
    for odd in (None, "", "a/b", "user@host:1", "host:port", "x y", "h:1?q", "[::1"):
        assert from_host_header(odd, fallback) == fallback, odd
