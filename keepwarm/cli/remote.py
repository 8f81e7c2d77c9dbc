"""``keepwarm invoke --endpoint URL``: call a running ``keepwarm serve`` (or AWS-compatible API).

Why plain ``http.client``: the CLI should not import boto3 to make one request, and the wire
format (Invoke's headers) is all there is to it. With credentials, the request is signed
(SigV4) by ``keepwarm.sigv4``, the code ``keepwarm serve --auth sigv4`` verifies with.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from typing import Any
from urllib.parse import quote, urlsplit

from keepwarm.errors import KeepwarmError
from keepwarm.sigv4 import Request, Signer


class RemoteError(KeepwarmError):
    """The server answered with a service error (AWS shape) or could not be reached."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def invoke_remote(
    endpoint: str,
    name: str,
    payload: bytes,
    qualifier: str | None,
    log_tail: bool,
    signer: Signer | None = None,
) -> dict[str, Any]:
    """One RequestResponse Invoke, signed when ``signer`` is given; returns what
    ``aws lambda invoke`` reports, plus the payload.

    Keys: ``StatusCode``, ``RequestId``, ``ExecutedVersion``, ``FunctionError`` (or None),
    ``LogResult`` (decoded text, or None), ``Payload`` (bytes).
    """
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise RemoteError(f"Not an HTTP endpoint: {endpoint}")
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(url.hostname, url.port, timeout=960)
    path = f"{url.path.rstrip('/')}/2015-03-31/functions/{quote(name, safe='')}/invocations"
    query = f"Qualifier={quote(qualifier, safe='')}" if qualifier else ""
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}
    if log_tail:
        headers["X-Amz-Log-Type"] = "Tail"
    if signer is not None:
        headers["Host"] = url.netloc.rpartition("@")[2]  # sent as signed: http.client keeps it
        request = Request("POST", path, query, list(headers.items()), payload)
        headers.update(signer.headers(request, time.time()))
    try:
        conn.request("POST", f"{path}?{query}" if query else path, body=payload, headers=headers)
        response = conn.getresponse()
        body = response.read()
    except OSError as exc:
        raise RemoteError(f"Cannot reach {endpoint}: {exc}") from exc
    finally:
        conn.close()
    if response.status >= 300:
        raise _service_error(response, body)
    log = response.getheader("X-Amz-Log-Result")
    return {
        "StatusCode": response.status,
        "RequestId": response.getheader("x-amzn-RequestId"),
        "ExecutedVersion": response.getheader("X-Amz-Executed-Version"),
        "FunctionError": response.getheader("X-Amz-Function-Error"),
        "LogResult": base64.b64decode(log).decode(errors="replace") if log else None,
        "Payload": body,
    }


def _service_error(response: http.client.HTTPResponse, body: bytes) -> RemoteError:
    code = (response.getheader("x-amzn-ErrorType") or "").split(":")[0]
    try:
        data = json.loads(body)
        message = data.get("message") or data.get("Message") or body.decode(errors="replace")
    except ValueError:
        message = body.decode(errors="replace")
    return RemoteError(f"{code or response.status}: {message}", code, response.status)
