"""Calling function URLs on a real ``keepwarm serve``: plain ``http.client`` requests whose
``Host`` is ``<url-id>.lambda-url.us-east-1.localhost``, as curl or a browser sends it.

Checked against AWS's ``urls-invocation.md``, events AWS sent (aws-powertools'
``lambdaFunctionUrlEvent*.json``) and responses recorded against AWS (localstack's
``test_lambda.snapshot.json``, ``TestLambdaURL``): the 2.0 event member by member, the response
inference, the URL's own errors (502, 403, 429), CORS, and AWS_IAM signatures.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.lambda_api.kw_server import Server, create, wait_for

ECHO = "def handler(event, context):\n    return event\n"
RESPONDER = "import json\ndef handler(event, context):\n    return json.loads(event['body'])\n"
COUNTING = "n = 0\ndef handler(event, context):\n    global n\n    n += 1\n    return {'n': n}\n"
FAILING = "def handler(event, context):\n    raise ValueError('no')\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(5)\n"
TIME = re.compile(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000")
KEY, SECRET = "AKIAKEEPWARMURLTEST1", "url/test/secret"
FORBIDDEN = (  # what AWS answers an unauthorized function URL request since 2025
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.getheaders()
        self.body = response.read()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: Server,
    host: str,
    method: str = "GET",
    path: str = "/",
    body: bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Answer:
    """One request with exactly these headers (repeated ones too), ``Host`` first."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    for name, value in headers or []:
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    return Answer(conn.getresponse())


def url_host(lam: Any, name: str, **config: Any) -> str:
    """A new function URL's ``Host`` (``<url-id>.lambda-url.us-east-1.localhost:PORT``)."""
    config.setdefault("AuthType", "NONE")
    out = lam.create_function_url_config(FunctionName=name, **config)
    return str(out["FunctionUrl"]).split("/")[2]


def test_the_event_member_by_member(lam: Any, server: Server) -> None:
    create(lam, "echo", ECHO)
    host = url_host(lam, "echo")
    url_id = host.split(".")[0]
    binary = bytes(range(256))
    before = time.time()
    answer = call(
        server,
        host,
        "POST",
        "/path/a%20b?x=1&x=2&empty=&y=z%2F",
        binary,
        [
            ("Cookie", "a=1; b=2"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("User-Agent", "tester/1"),
            ("Content-Type", "application/octet-stream"),
        ],
    )
    assert answer.status == 200 and answer.header("content-type") == "application/json"
    event = answer.json()
    assert list(event) == [
        "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
        "queryStringParameters", "requestContext", "body", "isBase64Encoded",
    ]  # fmt: skip
    assert (event["version"], event["routeKey"]) == ("2.0", "$default")
    assert (event["rawPath"], event["rawQueryString"]) == ("/path/a%20b", "x=1&x=2&empty=&y=z%2F")
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"x": "1,2", "empty": "", "y": "z/"}
    headers = event["headers"]
    assert "cookie" not in headers
    assert headers["x-multi"] == "one,two"
    assert headers["host"] == host and headers["user-agent"] == "tester/1"
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-length"] == "256"
    assert (headers["x-forwarded-proto"], headers["x-forwarded-port"]) == ("http", str(server.port))
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-amzn-trace-id"] == answer.header("x-amzn-trace-id")
    context = event["requestContext"]
    assert context["accountId"] == "anonymous" and "authorizer" not in context
    assert (context["apiId"], context["domainPrefix"]) == (url_id, url_id)
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert context["http"] == {
        "method": "POST",
        "path": "/path/a%20b",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tester/1",
    }
    assert context["requestId"] == answer.header("x-amzn-requestid")
    assert (context["routeKey"], context["stage"]) == ("$default", "$default")
    assert TIME.fullmatch(context["time"])
    assert before * 1000 - 1 <= context["timeEpoch"] <= time.time() * 1000 + 1
    assert (
        time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(context["timeEpoch"] / 1000))
        == (context["time"])
    )
    assert (event["isBase64Encoded"], base64.b64decode(event["body"])) == (True, binary)
    assert "pathParameters" not in event and "stageVariables" not in event

    text = call(server, host, "PUT", "/", b'{"k": "v"}', [("Content-Type", "application/json")])
    assert (text.json()["body"], text.json()["isBase64Encoded"]) == ('{"k": "v"}', False)
    form = call(
        server,
        host,
        "POST",
        "/",
        b"a=1&b=2",
        [("Content-Type", "application/x-www-form-urlencoded")],
    )
    assert form.json()["isBase64Encoded"] is True  # only text/*, JSON, XML, JavaScript are text
    bare = call(server, host).json()
    assert "body" not in bare and bare["isBase64Encoded"] is False
    assert "cookies" not in bare and "queryStringParameters" not in bare
    assert (bare["rawPath"], bare["rawQueryString"]) == ("/", "")


def test_the_invocation_is_invokes_own(lam: Any, server: Server) -> None:
    """START/END/REPORT for the URL's request id, in the function's log stream."""
    create(lam, "logged", COUNTING)
    answer = call(server, url_host(lam, "logged"), "GET", "/")
    rid = answer.header("x-amzn-requestid")
    report = f"REPORT RequestId: {rid}"

    def logged() -> bool:
        files = [p for p in server.data_dir.rglob("*.log") if p.is_file()]
        return any(report in p.read_text(errors="replace") for p in files)

    assert answer.json() == {"n": 1}
    wait_for(logged, timeout=30)


@pytest.mark.parametrize(
    ("spec", "status", "body", "content_type"),
    [
        ({"hello": "world"}, 200, b'{"hello":"world"}', "application/json"),
        ({"statusCode": 200, "body": "body123"}, 200, b"body123", "application/json"),
        ({"statusCode": 200, "body": '{"hello": "world"}'}, 200, b'{"hello": "world"}', None),
        (["hello", 3, True], 200, b'["hello",3,true]', "application/json"),
        ("hello", 200, b"hello", "application/json"),
        (3, 200, b"3", "application/json"),
        (3.1, 200, b"3.1", "application/json"),
        (True, 200, b"true", "application/json"),
        ({"statusCode": "418", "body": "i'm a teapot"}, 418, b"i'm a teapot", None),
        ({"statusCode": 204}, 204, b"", None),
        ({"statusCode": "abc", "body": "x"}, 502, b"Internal Server Error", None),
        ({"statusCode": 200, "headers": {"x-bad": "a\nb"}}, 502, b"Internal Server Error", None),
        (
            {"statusCode": 200, "headers": {"x-list": ["a", "b"]}},
            502,
            b"Internal Server Error",
            None,
        ),
        ({"statusCode": 200, "headers": {"x-null": None}}, 502, b"Internal Server Error", None),
        ({"statusCode": 200, "cookies": "a=1"}, 502, b"Internal Server Error", None),
        ({"statusCode": 200, "cookies": [{"a": 1}]}, 502, b"Internal Server Error", None),
        ({"statusCode": 204, "body": "dropped"}, 204, b"", None),
        ({"statusCode": 304, "body": "dropped"}, 304, b"", None),
    ],
    ids=[
        "dict",
        "http-response",
        "http-response-json",
        "list",
        "string",
        "integer",
        "float",
        "boolean",
        "string-status",
        "no-body",
        "bad-status",
        "bad-header",
        "header-list",
        "header-null",
        "cookies-not-a-list",
        "cookie-not-a-string",
        "204-body",
        "304-body",
    ],
)
def test_responses_are_inferred_as_aws_infers_them(
    lam: Any, server: Server, spec: Any, status: int, body: bytes, content_type: str | None
) -> None:
    """The recorded cases (localstack ``test_lambda_url_invocation[...]``, AWS 2025-11-24)."""
    create(lam, "responder", RESPONDER)
    host = url_host(lam, "responder")
    answer = call(
        server, host, "POST", "/", json.dumps(spec).encode(), [("Content-Type", "text/plain")]
    )
    assert (answer.status, answer.body) == (status, body)
    if content_type is not None:
        assert answer.header("content-type") == content_type
    no_content = status in (204, 304)  # no content, so no length either (RFC 9110)
    assert answer.header("content-length") == (None if no_content else str(len(body)))


def test_a_full_response_headers_cookies_and_base64(lam: Any, server: Server) -> None:
    create(lam, "full", RESPONDER)
    host = url_host(lam, "full")
    raw = b"\x89PNG\r\n\x1a\n\x00binary"
    spec = {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "My-Custom-Header": "Custom Value"},
        "cookies": [
            "Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT",
            "Cookie_2=Value2; Max-Age=78000",
        ],
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }
    answer = call(
        server, host, "POST", "/", json.dumps(spec).encode(), [("Content-Type", "application/json")]
    )
    assert (answer.status, answer.body) == (201, raw)
    assert answer.header("content-type") == "image/png"
    assert answer.header("my-custom-header") == "Custom Value"
    assert answer.all("set-cookie") == spec["cookies"]


def test_failures_timeouts_throttles_and_unknown_urls(lam: Any, server: Server) -> None:
    create(lam, "failing", FAILING)
    failing = url_host(lam, "failing")
    answer = call(server, failing)
    assert (answer.status, answer.body) == (502, b"Internal Server Error")
    assert answer.header("x-amzn-requestid")

    create(lam, "slow", SLOW, Timeout=1)
    assert (call(server, url_host(lam, "slow")).status) == 502

    create(lam, "throttled", ECHO)
    throttled = url_host(lam, "throttled")
    lam.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=0)
    answer = call(server, throttled)
    assert (answer.status, answer.json()) == (429, {"message": "Rate Exceeded."})
    assert answer.header("x-amzn-errortype") == "TooManyRequestsException"
    lam.delete_function_concurrency(FunctionName="throttled")
    assert call(server, throttled).status == 200

    # No URL has this id (recorded: 403 AccessDeniedException {"Message":null}).
    for host in (
        f"0123456789abcdefghijklmnopqrstuv.lambda-url.us-east-1.localhost:{server.port}",
        failing.replace("us-east-1", "eu-west-1"),
        f"short.lambda-url.us-east-1.localhost:{server.port}",
    ):
        answer = call(server, host, "POST", "/2015-03-31/functions/failing/invocations", b"{}")
        assert (answer.status, answer.body) == (403, b'{"Message":null}')
        assert answer.header("x-amzn-errortype") == "AccessDeniedException"
        assert answer.header("content-type") == "application/json"

    big = call(server, failing, "POST", "/", b"x" * (6 * 1024 * 1024 + 1))
    assert big.status == 413 and big.header("x-amzn-errortype") == "RequestEntityTooLargeException"


def test_cors_preflight_is_answered_without_the_function(lam: Any, server: Server) -> None:
    create(lam, "cors", COUNTING)
    cors = {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom", "content-type"],
        "ExposeHeaders": ["x-out"],
        "AllowCredentials": True,
        "MaxAge": 300,
    }
    host = url_host(lam, "cors", Cors=cors)
    asked = [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST")]
    answer = call(server, host, "OPTIONS", "/anything", headers=asked)
    assert (answer.status, answer.body) == (200, b"")
    assert {k.lower(): v for k, v in answer.headers if k.lower().startswith("access-control")} == {
        "access-control-allow-origin": "https://app.example",
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "x-custom,content-type",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "300",
    }
    other = [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")]
    assert (
        call(server, host, "OPTIONS", "/", headers=other).header("access-control-allow-origin")
        is None
    )
    put = [("Origin", "https://app.example"), ("Access-Control-Request-Method", "PUT")]
    assert (
        call(server, host, "OPTIONS", "/", headers=put).header("access-control-allow-origin")
        is None
    )

    answer = call(server, host, "GET", "/", headers=[("Origin", "https://app.example")])
    assert answer.json() == {"n": 1}  # the three preflights invoked nothing
    assert answer.header("access-control-allow-origin") == "https://app.example"
    assert answer.header("access-control-expose-headers") == "x-out"
    assert answer.header("access-control-allow-credentials") == "true"
    assert answer.header("vary") == "Origin"
    # A web page's Origin is this URL's business, not the API's browser guard's.
    foreign = call(server, host, "GET", "/", headers=[("Origin", "https://evil.example")])
    assert foreign.status == 200 and foreign.header("access-control-allow-origin") is None
    # Without Access-Control-Request-Method an OPTIONS is an ordinary request.
    assert call(
        server, host, "OPTIONS", "/", headers=[("Origin", "https://app.example")]
    ).json() == {"n": 3}


def signed(
    host: str,
    path: str = "/",
    body: bytes = b"",
    key: str = KEY,
    secret: str = SECRET,
    region: str = "us-east-1",
) -> list[tuple[str, str]]:
    request = AWSRequest(
        method="POST",
        url=f"http://{host}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(key, secret), "lambda", region).add_auth(request)
    return [(k, str(v)) for k, v in request.headers.items() if k.lower() != "host"]


def test_aws_iam_wants_a_signature(lam: Any, server: Server) -> None:
    """Served without ``--auth sigv4`` the server knows no secret: as for the API, any key
    signs, but unsigned or wrongly scoped requests are refused in Lambda's words."""
    create(lam, "iam", ECHO)
    host = url_host(lam, "iam", AuthType="AWS_IAM")
    unsigned = call(server, host, "POST", "/", b"{}")
    assert (unsigned.status, unsigned.json()) == (403, {"Message": FORBIDDEN})
    assert unsigned.header("x-amzn-errortype") == "AccessDeniedException"

    answer = call(server, host, "POST", "/p?q=1", b'{"a": 1}', signed(host, "/p?q=1", b'{"a": 1}'))
    assert answer.status == 200
    context = answer.json()["requestContext"]
    assert context["accountId"] == "000000000000"
    assert context["authorizer"]["iam"]["accessKey"] == KEY
    assert context["authorizer"]["iam"]["accountId"] == "000000000000"

    wrong = call(server, host, "POST", "/", b"{}", signed(host, body=b"{}", region="eu-west-1"))
    assert (wrong.status, wrong.header("x-amzn-errortype")) == (403, "InvalidSignatureException")
    assert wrong.json() == {
        "message": "Credential should be scoped to a valid region, not 'eu-west-1'. "
    }


def test_urls_under_auth_sigv4(start_server: Callable[..., Server], tmp_path: Path) -> None:
    """With ``--auth sigv4`` a NONE URL stays public (the API's signature check is not its
    gate), and an AWS_IAM one checks the signature itself against the known keys."""
    from tests.reliability.test_auth import _client

    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"
    )
    server = start_server("--auth", "sigv4", "--credentials", str(credentials))
    lam = _client(server.url, KEY, SECRET)
    create(lam, "open", ECHO)
    create(lam, "closed", ECHO)
    public = url_host(lam, "open")
    private = url_host(lam, "closed", AuthType="AWS_IAM")
    assert call(server, public, "GET", "/").status == 200
    assert call(server, private, "POST", "/", b"{}", signed(private, body=b"{}")).status == 200
    bad = call(server, private, "POST", "/", b"{}", signed(private, body=b"{}", secret="wrong"))
    assert (bad.status, bad.header("x-amzn-errortype")) == (403, "InvalidSignatureException")
    assert bad.json()["message"].startswith("The request signature we calculated does not match")
    other = call(server, private, "POST", "/", b"{}", signed(private, body=b"{}", key="AKIAOTHER"))
    assert other.json() == {"message": "The security token included in the request is invalid."}


def test_a_url_called_by_its_name(lam: Any, server: Server) -> None:
    """``*.localhost`` is the loopback (RFC 6761): where this machine's resolver says so, any
    client reaches the URL by name; recent curl resolves such names itself."""
    create(lam, "named", "def handler(e, c):\n    return 'by name'\n")
    url = lam.create_function_url_config(FunctionName="named", AuthType="NONE")["FunctionUrl"]
    name = url.split("/")[2].split(":")[0]
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, server.port)}
    except socket.gaierror:
        addresses = set()
    if "127.0.0.1" in addresses:
        with urllib.request.urlopen(url + "hello", timeout=60) as response:
            assert (response.status, response.read()) == (200, b"by name")
        return
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip(f"this machine does not resolve {name} to 127.0.0.1, and has no curl")
    done = subprocess.run(
        [curl, "-sS", "-4", "-w", " %{http_code}", url + "hello"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode == 6:  # "Could not resolve host": an older curl
        pytest.skip(f"neither this machine's resolver nor its curl resolves {name}")
    assert (done.returncode, done.stdout) == (0, "by name 200"), done.stderr
