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
import os
import shlex
import subprocess
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from keepwarm.lambda_api.endpoint import endpoint, from_host_header
from keepwarm.lambda_api.server import try_it
from tests.cli.test_logs_cli import Follower
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


def test_the_printed_lines_invoke_and_follow_the_function_from_anywhere(
    start_server: Any, tmp_path: Path
) -> None:
    """Pasted as printed, in another directory: the AWS CLI line invokes the function, and the
    logs line follows its stream."""
    srv = start_server("-t", str(_template(tmp_path)))
    lines = [ln.strip() for ln in srv.stderr().splitlines()]
    invoke = next(ln for ln in lines if " lambda invoke " in ln)
    follow = next(ln for ln in lines if ln.startswith("Follow its logs: "))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        ["bash", "-c", invoke], cwd=elsewhere, env=clean, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    argv = shlex.split(follow.removeprefix("Follow its logs: "))
    assert argv[-1] == "-f"
    follower = Follower(argv=argv)
    seen = follower.until(lambda _stream, text: text.startswith("REPORT RequestId:"))
    assert any(text.startswith("START RequestId:") for _, text in seen)
    assert follower.interrupt() == (0, "")


def test_the_printed_logs_line_names_the_data_dir_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--data-dir .keepwarm`` (the default, relative) would name another directory, or
    none, wherever the line is pasted."""
    monkeypatch.chdir(tmp_path)
    printed = try_it("http://127.0.0.1:9001", ["Fn"], data_dir=Path(".keepwarm"))
    follow = next(ln.strip() for ln in printed.splitlines() if "Follow its logs" in ln)
    assert f"--data-dir {shlex.quote(str(tmp_path.resolve() / '.keepwarm'))} -f" in follow
