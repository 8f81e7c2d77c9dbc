"""Function URLs' control plane (Create/Get/Update/Delete/ListFunctionUrlConfigs) through boto3
and the AWS CLI against a real ``keepwarm serve``: shapes, Lambda's exact errors (as recorded
against AWS in localstack's ``test_lambda_api.snapshot.json``, ``TestLambdaUrl``), one URL per
function or alias, removal with the function and the alias, and persistence over a restart."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_serve_awscli import aws
from tests.lambda_api.kw_server import Server, create
from tests.lambda_api.test_invoke import error_of

URL = re.compile(r"http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
NOT_THERE = (404, "ResourceNotFoundException", "The resource you requested does not exist.")
NO_FUNCTION = (404, "ResourceNotFoundException", "Function does not exist")


def qualifier_error(value: str) -> tuple[int, str, str]:
    return (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at 'qualifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)",
    )


def refused(op: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        op(**params)
    return error_of(excinfo)


def serve_url(server: Server, function_url: str, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("GET", path, headers={"Host": function_url.split("/")[2]})
    response = conn.getresponse()
    return response.status, response.read()


def meta_free(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if k != "ResponseMetadata"}


def test_lifecycle_shapes_and_conflict(lam: Any, server: Server) -> None:
    create(lam, "web")
    created = lam.create_function_url_config(FunctionName="web", AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    found = URL.fullmatch(url)
    assert found and int(found[2]) == server.port
    # Create names InvokeMode only when given, and has no LastModifiedTime (recorded, 2025).
    assert set(meta_free(created)) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime"}
    assert (created["FunctionArn"], created["AuthType"]) == (ARN.format("web"), "NONE")
    assert STAMP.fullmatch(created["CreationTime"])

    assert refused(lam.create_function_url_config, FunctionName="web", AuthType="NONE") == (
        409,
        "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {ARN.format('web')}]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function",
    )
    got = meta_free(lam.get_function_url_config(FunctionName="web"))
    assert got == {
        "FunctionUrl": url,
        "FunctionArn": ARN.format("web"),
        "AuthType": "NONE",
        "CreationTime": created["CreationTime"],
        "LastModifiedTime": created["CreationTime"],
        "InvokeMode": "BUFFERED",
    }
    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 60}
    updated = meta_free(
        lam.update_function_url_config(FunctionName="web", AuthType="AWS_IAM", Cors=cors)
    )
    assert (updated["FunctionUrl"], updated["AuthType"], updated["Cors"]) == (url, "AWS_IAM", cors)
    assert updated["LastModifiedTime"] > created["CreationTime"]
    # An update that names nothing keeps everything (InvokeMode too, as recorded).
    same = meta_free(
        lam.update_function_url_config(FunctionName="web", InvokeMode="RESPONSE_STREAM")
    )
    assert (same["AuthType"], same["Cors"], same["InvokeMode"]) == (
        "AWS_IAM",
        cors,
        "RESPONSE_STREAM",
    )
    assert (
        lam.delete_function_url_config(FunctionName="web")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    assert refused(lam.get_function_url_config, FunctionName="web") == NOT_THERE
    again = lam.create_function_url_config(
        FunctionName="web", AuthType="NONE", InvokeMode="BUFFERED"
    )
    assert again["InvokeMode"] == "BUFFERED"
    assert again["FunctionUrl"] != url  # a deleted URL cannot be recovered


def test_qualifier_rules_and_lambdas_words(lam: Any) -> None:
    create(lam, "q", Publish=True)
    lam.create_alias(FunctionName="q", Name="live", FunctionVersion="1")
    creating = {"AuthType": "NONE"}
    ops = [
        (lam.create_function_url_config, creating),
        (lam.get_function_url_config, {}),
        (lam.update_function_url_config, {}),
        (lam.delete_function_url_config, {}),
    ]
    for value in ("1", "2", "$LATEST"):
        for op, extra in ops:
            assert refused(op, FunctionName="q", Qualifier=value, **extra) == qualifier_error(value)
    # The qualifier is checked before the function is looked up, as on AWS.
    assert refused(ops[0][0], FunctionName="nope", Qualifier="1", **creating) == (
        qualifier_error("1")
    )
    expected = [NO_FUNCTION, NOT_THERE, NO_FUNCTION, NOT_THERE]
    for name in ("nope", ARN.format("nope")):
        for (op, extra), error in zip(ops, expected, strict=True):
            assert refused(op, FunctionName=name, **extra) == error
        assert refused(lam.list_function_url_configs, FunctionName=name) == NO_FUNCTION
    for (op, extra), error in zip(ops, expected, strict=True):  # an alias that does not exist
        assert refused(op, FunctionName="q", Qualifier="v1", **extra) == error
    assert refused(lam.get_function_url_config, FunctionName="q") == NOT_THERE
    assert refused(ops[0][0], FunctionName="q:live", Qualifier="other", **creating) == (
        400,
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )
    on_alias = lam.create_function_url_config(FunctionName="q:live", AuthType="AWS_IAM")
    assert on_alias["FunctionArn"] == ARN.format("q") + ":live"
    unqualified = lam.create_function_url_config(FunctionName="q", AuthType="NONE")
    assert on_alias["FunctionUrl"] != unqualified["FunctionUrl"]
    assert lam.get_function_url_config(FunctionName="q", Qualifier="live")["AuthType"] == "AWS_IAM"


def test_values_are_checked_as_aws_checks_them(lam: Any, server: Server) -> None:
    create(lam, "v")
    creating = lam.create_function_url_config
    assert refused(creating, FunctionName="v", AuthType="NONE", InvokeMode="UNKNOWN") == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]",
    )
    assert refused(creating, FunctionName="v", AuthType="NONE", Cors={"MaxAge": 86401}) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy "
        "constraint: Member must have value less than or equal to 86400",
    )
    methods = {"AllowMethods": ["OPTIONS"]}
    assert refused(creating, FunctionName="v", AuthType="NONE", Cors=methods) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '[OPTIONS]' at 'cors.allowMethods' failed to "
        "satisfy constraint: Member must satisfy constraint: [Member must have length less "
        "than or equal to 6]",
    )
    # What botocore would refuse before sending: sent raw, refused in AWS's words.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/2021-10-31/functions/v/url", body=json.dumps({"AuthType": "OPEN"}))
    response = conn.getresponse()
    assert (response.status, response.getheader("x-amzn-ErrorType")) == (400, "ValidationException")
    assert json.loads(response.read())["message"] == (
        "1 validation error detected: Value 'OPEN' at 'authType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [AWS_IAM, NONE]"
    )
    assert refused(lam.list_function_url_configs, FunctionName="v", MaxItems=51)[:2] == (
        400,
        "ValidationException",
    )
    assert lam.list_function_url_configs(FunctionName="v")["FunctionUrlConfigs"] == []


def test_list_pages_and_urls_go_with_their_alias_and_function(lam: Any, server: Server) -> None:
    create(lam, "p", Publish=True)
    for alias in ("a", "b"):
        lam.create_alias(FunctionName="p", Name=alias, FunctionVersion="1")
        lam.create_function_url_config(FunctionName="p", Qualifier=alias, AuthType="NONE")
    fn_url = lam.create_function_url_config(FunctionName="p", AuthType="NONE")["FunctionUrl"]
    seen, marker = [], None
    while True:
        page = lam.list_function_url_configs(
            FunctionName="p", MaxItems=1, **({"Marker": marker} if marker else {})
        )
        assert len(page["FunctionUrlConfigs"]) == 1
        seen += [c["FunctionArn"] for c in page["FunctionUrlConfigs"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(seen) == [ARN.format("p"), ARN.format("p") + ":a", ARN.format("p") + ":b"]
    listed = lam.list_function_url_configs(FunctionName="p")["FunctionUrlConfigs"][0]
    assert set(listed) == {
        "FunctionUrl", "FunctionArn", "AuthType", "CreationTime", "LastModifiedTime", "InvokeMode"
    }  # fmt: skip

    lam.delete_alias(FunctionName="p", Name="a")
    assert len(lam.list_function_url_configs(FunctionName="p")["FunctionUrlConfigs"]) == 2
    lam.create_alias(FunctionName="p", Name="a", FunctionVersion="1")
    assert refused(lam.get_function_url_config, FunctionName="p", Qualifier="a") == NOT_THERE

    lam.delete_function(FunctionName="p")
    assert serve_url(server, fn_url) == (403, b'{"Message":null}')
    create(lam, "p")
    assert refused(lam.get_function_url_config, FunctionName="p") == NOT_THERE
    assert lam.list_function_url_configs(FunctionName="p")["FunctionUrlConfigs"] == []


def test_urls_survive_a_restart_with_their_id(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = start_server(data_dir=data)
    lam = first.client()
    create(lam, "kept", "def handler(e, c):\n    return 'kept'\n", Publish=True)
    lam.create_alias(FunctionName="kept", Name="live", FunctionVersion="1")
    url = lam.create_function_url_config(
        FunctionName="kept", AuthType="NONE", Cors={"AllowOrigins": ["*"]}
    )["FunctionUrl"]
    alias_url = lam.create_function_url_config(
        FunctionName="kept", Qualifier="live", AuthType="AWS_IAM"
    )["FunctionUrl"]
    before = meta_free(lam.get_function_url_config(FunctionName="kept"))
    first.stop()

    second = start_server(data_dir=data)
    lam = second.client()
    after = meta_free(lam.get_function_url_config(FunctionName="kept"))
    url_id = URL.fullmatch(url)[1]  # type: ignore[index]
    assert URL.fullmatch(after["FunctionUrl"])[1] == url_id  # type: ignore[index]
    assert {k: v for k, v in after.items() if k != "FunctionUrl"} == {
        k: v for k, v in before.items() if k != "FunctionUrl"
    }
    assert serve_url(second, after["FunctionUrl"]) == (200, b"kept")
    alias_after = lam.get_function_url_config(FunctionName="kept", Qualifier="live")
    assert URL.fullmatch(alias_after["FunctionUrl"])[1] == URL.fullmatch(alias_url)[1]  # type: ignore[index]


def test_aws_cli_creates_a_function_url(server: Server, lam: Any) -> None:
    create(lam, "cli-url", "def handler(e, c):\n    return {'path': e['rawPath']}\n")
    out = aws(
        server,
        "create-function-url-config",
        "--function-name",
        "cli-url",
        "--auth-type",
        "NONE",
        "--cors",
        '{"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"]}',
    )
    created = json.loads(out.stdout)
    assert created["AuthType"] == "NONE"
    assert created["Cors"] == {
        "AllowOrigins": ["https://example.com"],
        "AllowMethods": ["GET", "POST"],
    }
    assert serve_url(server, created["FunctionUrl"], "/from/cli") == (200, b'{"path":"/from/cli"}')
    listed = json.loads(
        aws(server, "list-function-url-configs", "--function-name", "cli-url").stdout
    )
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
