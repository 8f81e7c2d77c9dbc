"""The handler's ``context`` object (§3.2), attribute for attribute."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from keepwarm.runtimes.python.context import LambdaContext, make_context
from keepwarm.runtimes.python.errors import FaultError

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
ENV = {
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
    "AWS_LAMBDA_FUNCTION_NAME": "fn",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
}
CLIENT_CONTEXT = {
    "custom": {"k": "v"},
    "env": {"platform": "android"},
    "client": {
        "installation_id": "i-1",
        "app_title": "App",
        "app_version_name": "1.0",
        "app_version_code": "10",
        "app_package_name": "com.example",
    },
}
IDENTITY = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}


@pytest.fixture(autouse=True)
def _function_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def context(
    client_context: str | None = None, identity: str | None = None, deadline: int = 0
) -> LambdaContext:
    return make_context("req-1", client_context, identity, deadline, ARN, None)


def test_function_facts_come_from_env() -> None:
    ctx = context()
    assert ctx.aws_request_id == "req-1"
    assert ctx.invoked_function_arn == ARN
    assert ctx.function_name == "fn"
    assert ctx.function_version == "$LATEST"
    assert ctx.log_group_name == "/aws/lambda/fn"
    assert ctx.log_stream_name == ENV["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert ctx.tenant_id is None


def test_memory_limit_is_a_string() -> None:
    assert context().memory_limit_in_mb == "128"


def test_missing_env_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    assert context().memory_limit_in_mb is None


def test_constructor_matches_make_context() -> None:
    ctx = LambdaContext("r", None, None, 5, ARN, "tenant-a")
    assert isinstance(ctx, LambdaContext)
    assert ctx.tenant_id == "tenant-a"


def test_remaining_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_000.0)
    ctx = context(deadline=1_000_000 + 2_500)
    assert ctx.get_remaining_time_in_millis() == 2_500
    monkeypatch.setattr(time, "time", lambda: 1_002.4999)
    assert ctx.get_remaining_time_in_millis() == 1


def test_remaining_time_is_clamped_at_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 2_000.0)
    assert context(deadline=1_000_000).get_remaining_time_in_millis() == 0


def test_remaining_time_with_real_clock() -> None:
    deadline = int(time.time() * 1000) + 3_000
    assert 2_000 < context(deadline=deadline).get_remaining_time_in_millis() <= 3_000


def test_identity_is_always_an_object() -> None:
    identity = context().identity
    assert identity.cognito_identity_id is None
    assert identity.cognito_identity_pool_id is None


def test_identity_from_header() -> None:
    identity = context(identity=json.dumps(IDENTITY)).identity
    assert identity.cognito_identity_id == "us-east-1:abc"
    assert identity.cognito_identity_pool_id == "us-east-1:pool"


def test_no_client_context_is_none() -> None:
    assert context().client_context is None
    assert context(client_context="").client_context is None


def test_client_context_object() -> None:
    client_context = context(client_context=json.dumps(CLIENT_CONTEXT)).client_context
    assert client_context is not None
    assert client_context.custom == {"k": "v"}
    assert client_context.env == {"platform": "android"}
    client = client_context.client
    assert client is not None
    assert client.installation_id == "i-1"
    assert client.app_title == "App"
    assert client.app_version_name == "1.0"
    assert client.app_version_code == "10"
    assert client.app_package_name == "com.example"


def test_client_context_without_client() -> None:
    client_context = context(client_context='{"custom": {"a": 1}}').client_context
    assert client_context is not None
    assert (client_context.client, client_context.env) == (None, None)


def test_w3c_fields_are_separated_from_client_context() -> None:
    raw = {"custom": {}, "w3c": {"traceparent": "00-ab-cd-01", "baggage": 3, "other": "x"}}
    ctx = context(client_context=json.dumps(raw))
    assert ctx.w3c() == {"traceparent": "00-ab-cd-01"}
    assert context().w3c() == {}


@pytest.mark.parametrize(
    ("client_context", "identity", "name"),
    [("{not json", None, "Client Context"), (None, "[1,", "Cognito Identity")],
)
def test_invalid_header_json(client_context: str | None, identity: str | None, name: str) -> None:
    bad = client_context or identity or ""
    try:
        json.loads(bad)
    except ValueError as exc:
        detail = str(exc)
    with pytest.raises(FaultError) as caught:
        context(client_context=client_context, identity=identity)
    assert caught.value.error_type == "Runtime.LambdaContextUnmarshalError"
    assert caught.value.message == f"Unable to parse {name} JSON: {detail}"


def test_log_writes_message_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    context().log("hello")
    context().log(42)
    assert capsys.readouterr().out == "hello42"


def test_repr_matches_awslambdaric() -> None:
    theirs: Any = pytest.importorskip("awslambdaric.lambda_context")
    ours = make_context("r", json.dumps(CLIENT_CONTEXT), json.dumps(IDENTITY), 9, ARN, "t")
    reference = theirs.LambdaContext("r", dict(CLIENT_CONTEXT), dict(IDENTITY), 9, ARN, "t")
    assert repr(ours) == repr(reference)
    assert repr(context()) == repr(theirs.LambdaContext("req-1", None, None, 0, ARN, None))


def test_attribute_names_match_awslambdaric() -> None:
    theirs: Any = pytest.importorskip("awslambdaric.lambda_context")
    reference = theirs.LambdaContext("r", dict(CLIENT_CONTEXT), dict(IDENTITY), 9, ARN, "t")
    ours = make_context("r", json.dumps(CLIENT_CONTEXT), json.dumps(IDENTITY), 9, ARN, "t")
    public = {name for name in vars(reference) if not name.startswith("_")}
    assert public == {name for name in vars(ours) if not name.startswith("_")}
