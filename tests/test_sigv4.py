"""keepwarm's SigV4 signer makes exactly botocore's signature, and its verifier accepts it.

botocore is the reference every AWS client signs with; the request is Invoke as
``keepwarm invoke --endpoint`` sends it (an ARN in the path, a qualifier in the query).
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from keepwarm.lambda_api.auth import Verifier
from keepwarm.sigv4 import Credentials, Request, Signer

KEY, SECRET = "AKIAKEEPWARMSIGN0001", "sign/secret+key=0001"
WHEN = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
URL = (
    "http://127.0.0.1:9001/base/2015-03-31/functions/"
    "arn%3Aaws%3Alambda%3Aeu-west-3%3A000000000000%3Afunction%3Af/invocations?Qualifier=%24LATEST"
)
HEADERS = {
    "Content-Type": "application/json",
    "X-Amz-Invocation-Type": "RequestResponse",
    "X-Amz-Log-Type": "Tail",
}
BODY = b'{"k": "v  w"}'


def _ours(token: str | None, region: str = "eu-west-3") -> tuple[Request, dict[str, str]]:
    parts = urlsplit(URL)
    request = Request(
        "POST", parts.path, parts.query, [*HEADERS.items(), ("Host", parts.netloc)], BODY
    )
    signer = Signer(Credentials(KEY, SECRET, token), region)
    return request, signer.headers(request, WHEN.timestamp())


@pytest.mark.parametrize("token", [None, "session/token=="])
def test_signature_matches_botocores(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN.replace(tzinfo=None))
    reference = AWSRequest(method="POST", url=URL, data=BODY, headers=dict(HEADERS))
    botocore.auth.SigV4Auth(BotoCredentials(KEY, SECRET, token), "lambda", "eu-west-3").add_auth(
        reference
    )
    _, added = _ours(token)
    expected = {"X-Amz-Date", "Authorization"} | ({"X-Amz-Security-Token"} if token else set())
    assert added == {name: reference.headers[name] for name in expected}


def test_the_verifier_accepts_what_the_signer_makes() -> None:
    request, added = _ours("tok")
    headers = [*request.headers, *added.items()]
    verifier = Verifier({KEY: SECRET}, region="eu-west-3", now=WHEN.timestamp, tokens={KEY: "tok"})
    assert verifier.verify("POST", request.raw_path, request.raw_query, headers, BODY) == KEY
