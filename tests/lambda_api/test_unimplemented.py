"""Lambda operations keepwarm does not implement are named in their 404, on a real server.

They used to answer ``UnknownOperationException`` "Not Found", which tells a deploy tool that
calls AddPermission nothing. The table behind this (``lambda_api/lambda_operations.json``) is
botocore's model copied, checked here against the installed botocore.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable
from typing import Any

import botocore.loaders
import pytest
from botocore.exceptions import ClientError

from keepwarm.lambda_api.routes import ROUTES
from keepwarm.lambda_api.unimplemented import TABLE, UNIMPLEMENTED, operation_at
from tests.lambda_api.kw_server import Server
from tests.lambda_api.test_invoke import error_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def _model_rows() -> list[list[str]]:
    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    rows = [
        [op["http"]["method"], op["http"]["requestUri"], name]
        for name, op in model["operations"].items()
    ]
    return sorted(rows, key=lambda row: (row[1], row[0]))


def test_the_operation_table_is_botocores_model() -> None:
    rows = _model_rows()
    expected = "[\n" + ",\n".join(f"  {json.dumps(row)}" for row in rows) + "\n]\n"
    assert TABLE.read_text() == expected, f"write this to {TABLE}:\n{expected}"


def test_every_served_operation_is_at_the_models_path() -> None:
    """Trailing slashes aside: older models wrote some paths with one, and both spellings
    are served."""
    model = {name: (method, uri.rstrip("/")) for method, uri, name in _model_rows()}
    for op in ROUTES:
        if not op.name.startswith("Keepwarm"):
            assert model[op.name] == (op.method, op.uri.rstrip("/")), op.name


def _sample(uri: str) -> tuple[str, str]:
    path, _, query = uri.partition("?")
    return re.sub(r"\{[^}]+\}", "x%2Fy", path), query


def test_each_unimplemented_operation_is_found_from_its_method_and_path() -> None:
    assert len(UNIMPLEMENTED) == len(_model_rows()) - sum(
        not op.name.startswith("Keepwarm") for op in ROUTES
    )
    for method, uri, name in json.loads(TABLE.read_text()):
        path, query = _sample(uri)
        found = operation_at(method, path, query)
        assert found == (None if any(op.name == name for op in ROUTES) else name), uri
    assert operation_at("PATCH", "/2015-03-31/functions/f/policy", "") is None
    assert operation_at("GET", "/2015-03-31/functions/f/polic", "") is None


CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    (
        "AddPermission",
        lambda lam: lam.add_permission(
            FunctionName="f",
            StatementId="s",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
        ),
    ),
    ("InvokeWithResponseStream", lambda lam: lam.invoke_with_response_stream(FunctionName="f")),
    (
        "GetLayerVersionPolicy",
        lambda lam: lam.get_layer_version_policy(LayerName="l", VersionNumber=1),
    ),
    (
        "AddLayerVersionPermission",
        lambda lam: lam.add_layer_version_permission(
            LayerName="l",
            VersionNumber=1,
            StatementId="s",
            Action="lambda:GetLayerVersion",
            Principal="*",
        ),
    ),
    ("GetPolicy", lambda lam: lam.get_policy(FunctionName=ARN)),
    ("ListEventSourceMappings", lambda lam: lam.list_event_source_mappings()),
    (
        "GetProvisionedConcurrencyConfig",
        lambda lam: lam.get_provisioned_concurrency_config(FunctionName="f", Qualifier="1"),
    ),
    (
        "ListProvisionedConcurrencyConfigs",
        lambda lam: lam.list_provisioned_concurrency_configs(FunctionName="f"),
    ),
    (
        "GetDurableExecution",
        lambda lam: lam.get_durable_execution(DurableExecutionArn=f"{ARN}:1/durable-execution/a/b"),
    ),
]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_an_unimplemented_operation_is_named_in_its_404(
    lam: Any, name: str, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(lam)
    assert error_of(excinfo) == (
        404,
        "UnknownOperationException",
        f"keepwarm does not implement {name} (see docs/api-compatibility.md)",
    )


def test_a_path_that_is_no_operation_is_still_not_found(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/2015-03-31/functions/f/nope")
    resp = conn.getresponse()
    assert (resp.status, resp.getheader("x-amzn-ErrorType")) == (404, "UnknownOperationException")
    assert json.loads(resp.read()) == {"Type": "User", "message": "Not Found"}
