"""SigV4 on the HTTP API: boto3 and the AWS CLI sign and pass; everything else gets AWS's 403s.

The verifier is also exercised directly against requests signed by botocore's own signer (the
reference implementation clients use), including the cases a server must get exactly right:
percent-encoded ARNs in the path, query strings, an expired or future ``X-Amz-Date``.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from keepwarm.lambda_api.auth import MISMATCH, AuthError, Verifier, load_credentials
from keepwarm.lambda_api.server import BindRefused, check_bind
from tests.helpers import echo_template

KEY, SECRET = "AKIAKEEPWARMTEST0001", "keepwarm/test/secret/key/0001"
OTHER_KEY, OTHER_SECRET = "AKIAKEEPWARMTEST0002", "second/secret"
ROLE = "arn:aws:iam::123456789012:role/keepwarm-test"


def _signed(
    method: str,
    url: str,
    body: bytes = b"",
    key: str = KEY,
    secret: str = SECRET,
    when: datetime.datetime | None = None,
    region: str = "us-east-1",
    token: str | None = None,
) -> AWSRequest:
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json"}
    )
    signer = SigV4Auth(Credentials(key, secret, token), "lambda", region)
    if when is not None:
        request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        signer._modify_request_before_signing(request)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        signature = signer.signature(string_to_sign, request)
        signer._inject_signature_to_request(request, signature)
    else:
        signer.add_auth(request)
    return request


def _verify(
    request: AWSRequest, verifier: Verifier | None = None, body: bytes | None = None
) -> str:
    parts = urlsplit(request.url)
    headers = [(k, str(v)) for k, v in request.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(("Host", parts.netloc))
    raw = request.body if body is None else body
    data = raw.encode() if isinstance(raw, str) else (raw or b"")
    return (verifier or Verifier({KEY: SECRET})).verify(
        request.method, parts.path, parts.query, headers, data
    )


URL = "http://127.0.0.1:9001/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af%3Aprod/invocations?Qualifier=%24LATEST&x=a%20b"


def test_requests_botocore_signs_are_accepted() -> None:
    assert _verify(_signed("POST", URL, b'{"k": "v"}')) == KEY
    assert _verify(_signed("GET", "http://localhost:9001/2015-03-31/functions/")) == KEY
    verifier = Verifier({KEY: SECRET, OTHER_KEY: OTHER_SECRET})
    assert _verify(_signed("GET", URL, key=OTHER_KEY, secret=OTHER_SECRET), verifier) == OTHER_KEY


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("tampered body", "InvalidSignatureException", MISMATCH),
        ("wrong secret", "InvalidSignatureException", MISMATCH),
        (
            "unknown key",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            "wrong region",
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'eu-west-3'. ",
        ),
        ("no authorization", "MissingAuthenticationTokenException", "Missing Authentication Token"),
        (
            "garbage authorization",
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter.",
        ),
    ],
)
def test_bad_requests_get_aws_codes_and_messages(case: str, code: str, message: str) -> None:
    request = {
        "tampered body": lambda: _signed("POST", URL, b'{"amount": 1}'),
        "wrong secret": lambda: _signed("POST", URL, secret="not-the-secret"),
        "unknown key": lambda: _signed("POST", URL, key="AKIAUNKNOWN000000000"),
        "wrong region": lambda: _signed("POST", URL, region="eu-west-3"),
        "no authorization": lambda: AWSRequest(method="POST", url=URL, data=b""),
        "garbage authorization": lambda: AWSRequest(
            method="POST", url=URL, data=b"", headers={"Authorization": "Bearer xyz"}
        ),
    }[case]()
    body = b'{"amount": 1000000}' if case == "tampered body" else None
    with pytest.raises(AuthError) as info:
        _verify(request, body=body)
    assert info.value.code == code
    assert info.value.message.startswith(message)


def test_a_session_token_must_be_the_keys_own() -> None:
    """A long-term key takes no session token (one used to be ignored, and the request let in);
    a temporary key (one with ``aws_session_token`` in the file) takes exactly its own."""
    invalid = (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    temporary = Verifier({KEY: SECRET, OTHER_KEY: OTHER_SECRET}, tokens={OTHER_KEY: "tok-2"})
    refused = [
        (Verifier({KEY: SECRET}), _signed("POST", URL, b"{}", token="FwoGZXIvYXdzE")),
        (temporary, _signed("POST", URL, b"{}", token="tok-2")),  # the other key's token
        (temporary, _signed("POST", URL, b"{}", OTHER_KEY, OTHER_SECRET)),  # none
        (temporary, _signed("POST", URL, b"{}", OTHER_KEY, OTHER_SECRET, token="tok-X")),
    ]
    for verifier, request in refused:
        with pytest.raises(AuthError) as info:
            _verify(request, verifier)
        assert (info.value.code, info.value.message) == invalid
    assert _verify(_signed("POST", URL, b"{}"), temporary) == KEY
    own = _signed("POST", URL, b"{}", OTHER_KEY, OTHER_SECRET, token="tok-2")
    assert _verify(own, temporary) == OTHER_KEY


def test_expired_and_future_signatures_are_refused_in_awss_words() -> None:
    now = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
    verifier = Verifier({KEY: SECRET}, now=now.timestamp)
    fresh = _signed("POST", URL, b"{}", when=now - datetime.timedelta(minutes=4, seconds=59))
    assert _verify(fresh, verifier) == KEY
    replayed = _signed("POST", URL, b"{}", when=now - datetime.timedelta(minutes=6))
    with pytest.raises(AuthError) as info:
        _verify(replayed, verifier)
    assert (info.value.code, info.value.message) == (
        "InvalidSignatureException",
        "Signature expired: 20260301T115400Z is now earlier than 20260301T115500Z "
        "(20260301T120000Z - 5 min.)",
    )
    future = _signed("POST", URL, b"{}", when=now + datetime.timedelta(minutes=7))
    with pytest.raises(
        AuthError,
        match=r"^Signature not yet current: 20260301T120700Z is still "
        r"later than 20260301T120500Z \(20260301T120000Z \+ 5 min.\)$",
    ):
        _verify(future, verifier)


def test_non_loopback_needs_auth_or_insecure() -> None:
    with pytest.raises(BindRefused):
        check_bind("0.0.0.0", insecure=False)
    check_bind("0.0.0.0", insecure=False, auth="sigv4")  # allowed: requests must be signed
    check_bind("127.0.0.1", insecure=False)


@pytest.fixture
def credentials_file(tmp_path: Path) -> Path:
    path = tmp_path / "credentials"
    path.write_text(
        f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n\n"
        f"[ci]\naws_access_key_id={OTHER_KEY}\naws_secret_access_key={OTHER_SECRET}\n"
    )
    path.chmod(0o600)
    return path


def test_credentials_file_is_read_like_the_aws_one(credentials_file: Path) -> None:
    assert load_credentials(credentials_file) == ({KEY: SECRET, OTHER_KEY: OTHER_SECRET}, {})
    twice = credentials_file.with_name("twice")  # which secret counts would be a guess
    twice.write_text(
        f"[a]\naws_access_key_id={KEY}\naws_secret_access_key=one\n"
        f"[b]\naws_access_key_id={KEY}\naws_secret_access_key=two\n"
    )
    with pytest.raises(ValueError, match=f"{twice}: access key {KEY} appears in more"):
        load_credentials(twice)
    garbled = credentials_file.with_name("garbled")
    garbled.write_bytes(b"[a]\naws_access_key_id = X\naws_secret_access_key = \xff\xfe\n")
    with pytest.raises(ValueError, match=f"cannot read credentials file {garbled}"):
        load_credentials(garbled)
    with credentials_file.open("a") as fh:
        fh.write("aws_session_token = tok-2\n")  # [ci] holds temporary credentials
    assert load_credentials(credentials_file)[1] == {OTHER_KEY: "tok-2"}


def _client(url: str, key: str = KEY, secret: str = SECRET, token: str | None = None) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 0}),
    )


def _raw(port: int, request: AWSRequest) -> tuple[int, str, dict[str, Any]]:
    parts = urlsplit(request.url)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = request.body or b""
    conn.request(
        request.method,
        parts.path + (f"?{parts.query}" if parts.query else ""),
        body=body,
        headers=dict(request.headers.items()),
    )
    response = conn.getresponse()
    data = response.read()
    return response.status, response.getheader("x-amzn-ErrorType") or "", json.loads(data or b"{}")


@pytest.mark.timeout(180)
def test_served_api_with_sigv4(start_server: Any, credentials_file: Path, tmp_path: Path) -> None:
    from kw_server import make_zip

    srv = start_server("--auth", "sigv4", "--credentials", str(credentials_file))
    lam = _client(srv.url)
    lam.create_function(
        FunctionName="signed",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return {'got': e}\n"})},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="signed", WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
    )
    arn = "arn:aws:lambda:us-east-1:000000000000:function:signed:$LATEST"
    out = lam.invoke(FunctionName=arn, Payload=b'{"a": 1}')
    assert json.loads(out["Payload"].read()) == {"got": {"a": 1}}
    assert [
        f["FunctionName"]
        for f in _client(srv.url, OTHER_KEY, OTHER_SECRET).list_functions()["Functions"]
    ] == ["signed"]

    outcomes = {}
    for name, client in {
        "wrong secret": _client(srv.url, KEY, "wrong"),
        "unknown key": _client(srv.url, "AKIAUNKNOWN000000000", SECRET),
        "long-term key with a session token": _client(srv.url, KEY, SECRET, "FwoGZXIvYXdzE"),
    }.items():
        with pytest.raises(ClientError) as info:
            client.invoke(FunctionName="signed", Payload=b"{}")
        err = info.value.response
        outcomes[name] = (
            err["ResponseMetadata"]["HTTPStatusCode"],
            err["Error"]["Code"],
            err["Error"]["Message"],
        )
    assert outcomes == {
        "wrong secret": (403, "InvalidSignatureException", MISMATCH),
        "unknown key": (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        "long-term key with a session token": (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    }
    invoke_url = f"{srv.url}/2015-03-31/functions/signed/invocations"
    unsigned = AWSRequest(method="POST", url=invoke_url, data=b"{}")
    assert _raw(srv.port, unsigned) == (
        403,
        "MissingAuthenticationTokenException",
        {"message": "Missing Authentication Token"},
    )
    old = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6)
    status, code, body = _raw(srv.port, _signed("POST", invoke_url, b"{}", when=old))
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"].startswith(f"Signature expired: {old.strftime('%Y%m%dT%H%M%SZ')} is now")
    # A request signed once, replayed with another body: refused.
    good = _signed("POST", invoke_url, b'{"n": 1}')
    assert _raw(srv.port, good)[0] == 200
    good.data = b'{"n": 2}'
    good.headers["Content-Length"] = str(len(good.data))
    assert _raw(srv.port, good)[:2] == (403, "InvalidSignatureException")
    # The AWS CLI, with the keys in its own credentials file, signs and passes too.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }
    cli = [sys.executable, "-m", "awscli", "lambda", "--endpoint-url", srv.url]
    listed = subprocess.run([*cli, "list-functions"], env=env, capture_output=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [f["FunctionName"] for f in json.loads(listed.stdout)["Functions"]] == ["signed"]
    env["AWS_PROFILE"] = "ci"
    assert (
        subprocess.run(
            [*cli, "list-functions"], env=env, capture_output=True, timeout=60
        ).returncode
        == 0
    )
    bad = tmp_path / "bad-credentials"
    bad.write_text(f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = nope\n")
    env.pop("AWS_PROFILE")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(bad)
    refused = subprocess.run([*cli, "list-functions"], env=env, capture_output=True, timeout=60)
    assert refused.returncode != 0
    assert b"InvalidSignatureException" in refused.stderr


def test_temporary_credentials_from_the_file_pass_with_their_token(
    start_server: Any, credentials_file: Path
) -> None:
    """A profile with ``aws_session_token`` (what SSO and ``assume-role`` write) keeps working:
    its clients send the token, which must be that one."""
    with credentials_file.open("a") as fh:
        fh.write("aws_session_token = tok-2\n")
    srv = start_server("--auth", "sigv4", "--credentials", str(credentials_file))
    assert _client(srv.url, OTHER_KEY, OTHER_SECRET, "tok-2").list_functions()["Functions"] == []
    for token in (None, "tok-X"):
        with pytest.raises(ClientError) as info:
            _client(srv.url, OTHER_KEY, OTHER_SECRET, token).list_functions()
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


@pytest.mark.timeout(180)
def test_template_functions_behind_sigv4(
    start_server: Any, credentials_file: Path, tmp_path: Path
) -> None:
    """``-t`` with ``--auth sigv4``: the server starts (its ready message reads the API's state
    through the signature middleware) and a signed call reaches the template's function."""
    template = echo_template(tmp_path, "Hello")
    srv = start_server(
        "-t", str(template), "--auth", "sigv4", "--credentials", str(credentials_file)
    )
    out = _client(srv.url).invoke(FunctionName="Hello", Payload=b'{"a": 1}')
    assert json.loads(out["Payload"].read()) == {"got": {"a": 1}}
    invoke_url = f"{srv.url}/2015-03-31/functions/Hello/invocations"
    assert _raw(srv.port, AWSRequest(method="POST", url=invoke_url, data=b"{}"))[0] == 403
    _the_printed_lines_work(srv.stderr(), tmp_path)
    srv.stop()
    odd = tmp_path / "odd-credentials"  # a section name the shell would expand or split
    odd.write_text(
        f'[it\'s $HOME `id` "q"]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n'
    )
    again = start_server("-t", str(template), "--auth", "sigv4", "--credentials", str(odd))
    _the_printed_lines_work(again.stderr(), tmp_path)


def _the_printed_lines_work(stderr: str, work: Path) -> None:
    """The "Try it" lines a signed server prints sign with its file's first key (named, never
    printed, quoted for the shell); run as printed, they reach the function. They used to
    pass key ``x``, and then to leave a section name unquoted in the boto3 line."""
    lines = [ln.strip() for ln in stderr.splitlines() if "AWS_SHARED_CREDENTIALS_FILE=" in ln]
    assert len(lines) == 2 and SECRET not in stderr, stderr
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for line in lines:
        done = subprocess.run(
            ["bash", "-c", line], cwd=work, env=clean, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert '"got": {}' in done.stdout or "'got': {}" in done.stdout, done.stdout


def _head_only(port: int, head: bytes) -> bytes:
    """Send a request head that promises a large body, and none of the body."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head)
        return sock.recv(65536)


def test_an_unknown_key_is_refused_before_its_body_is_read(
    start_server: Any, credentials_file: Path
) -> None:
    """The body used to be read first (up to 70 MB, held while the client withheld the rest)."""
    srv = start_server("--auth", "sigv4", "--credentials", str(credentials_file))
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN000000000/20260101/us-east-1/lambda/"
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
    )
    head = (
        f"POST /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
        f"Authorization: {auth}\r\nX-Amz-Date: 20260101T000000Z\r\n"
        "Content-Length: 50000000\r\n\r\n"
    ).encode()
    answer = _head_only(srv.port, head)
    assert answer.startswith(b"HTTP/1.1 403")
    assert b"UnrecognizedClientException" in answer


@pytest.mark.parametrize(
    ("header", "refused"),
    [
        ("Origin: https://evil.example", True),
        ("Origin: null", True),
        ("Host: rebind.evil.example:9001", True),
        ("Origin: http://localhost:3000", False),
    ],
)
def test_without_signatures_requests_from_web_pages_are_refused(
    start_server: Any, header: str, refused: bool
) -> None:
    """Any page in the developer's browser could otherwise create and run code (a simple
    cross-site POST needs no CORS preflight; a rebound DNS name can even read answers)."""
    from kw_server import ROLE, make_zip

    server = start_server()
    body = json.dumps(
        {
            "FunctionName": "planted",
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": __import__("base64").b64encode(make_zip({"app.py": ""})).decode()},
        }
    ).encode()
    host = "" if header.startswith("Host:") else f"Host: 127.0.0.1:{server.port}\r\n"
    head = (
        f"POST /2015-03-31/functions HTTP/1.1\r\n{host}{header}\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = _head_only(server.port, head + body)
    if refused:
        assert answer.startswith(b"HTTP/1.1 403") and b"AccessDeniedException" in answer
    else:
        assert answer.startswith(b"HTTP/1.1 201")
    names = [f["FunctionName"] for f in server.client().list_functions()["Functions"]]
    assert names == ([] if refused else ["planted"])


@pytest.mark.timeout(180)
def test_a_body_over_the_bound_names_its_operation_signed_or_not(
    start_server: Any, credentials_file: Path
) -> None:
    """AWS's text names the operation; the signature middleware's own bound (a little over
    CreateFunction's) gave its byte count and "the operation"."""
    want = "Request must be smaller than 69905067 bytes for the CreateFunction operation"
    open_srv = start_server()
    url = f"{open_srv.url}/2015-03-31/functions"
    request = AWSRequest(method="POST", url=url, data=b"{" + b" " * 69_905_067 + b"}")
    assert _raw(open_srv.port, request) == (413, "RequestEntityTooLargeException", _msg(want))
    signed = start_server("--auth", "sigv4", "--credentials", str(credentials_file))
    huge = _signed("POST", f"{signed.url}/2015-03-31/functions", b" " * (74 * 1024 * 1024))
    assert _raw(signed.port, huge) == (413, "RequestEntityTooLargeException", _msg(want))


def _msg(text: str) -> dict[str, Any]:
    return {"Type": "User", "message": text}
