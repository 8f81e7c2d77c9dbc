"""Fuzzing the served API from its own OpenAPI description (``/openapi.json``, generated from the
route table): over 10,000 generated requests against a real ``keepwarm serve``.

For every one: an answer within the client's timeout (no hang), no 5xx except a deliberate
ServiceException, and every error in AWS's shape (``x-amzn-ErrorType`` header and a JSON body
with ``message``/``Message``), so botocore can always parse it. Hypothesis (through
schemathesis) generates valid, invalid and boundary values per operation.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from keepwarm.lambda_api.openapi import document

pytestmark = [pytest.mark.slow]

EXAMPLES_PER_OPERATION = 375  # x 34 operations with inputs, plus the coverage cases: > 10,000
TIMEOUT_S = 30
SEEN: collections.Counter[str] = collections.Counter()
STATUS: collections.Counter[int] = collections.Counter()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from kw_server import Server

    data = tmp_path_factory.mktemp("keepwarm-fuzz") / "data"
    server = Server(data, "--async-time-scale", "0.001").start()
    yield server
    server.stop()
    print(
        f"\nFUZZ {sum(SEEN.values())} requests over {len(SEEN)} operations; statuses "
        f"{dict(sorted(STATUS.items()))}"
    )
    # Per operation: pytest-xdist may run the operations in different workers, each with
    # its own server and counts. One without inputs has only a handful of requests to make.
    thin = {op: n for op, n in SEEN.items() if _takes_input(op) and n < EXAMPLES_PER_OPERATION}
    assert not thin, thin


def _takes_input(label: str) -> bool:
    method, path = label.split(" ", 1)
    item = DOCUMENT["paths"][path]
    operation = item[method.lower()]
    return bool(
        item.get("parameters") or operation.get("parameters") or operation.get("requestBody")
    )


# The very document the server serves (checked below): generated from the route table, so it
# can be loaded at collection time, before any server runs.
DOCUMENT = document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_openapi_is_generated_from_the_route_table(served: Any) -> None:
    import urllib.request

    from keepwarm.lambda_api.routes import ROUTES

    with urllib.request.urlopen(f"{served.url}/openapi.json", timeout=10) as response:
        doc = json.load(response)
    described = {
        (m.upper(), p, op["operationId"])
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
    }
    # One operation per method and path: a row that fixes query members (GetLayerVersionByArn)
    # shares the path of the row that fixes none, the one described.
    assert described == {
        (r.method, r.path, r.name) for r in ROUTES if r.path != "/openapi.json" and not r.query
    }
    assert doc["openapi"].startswith("3.")
    assert doc == document()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.timeout(600)
def test_every_answer_is_in_awss_shape(case: Any, served: Any) -> None:
    response = case.call(base_url=served.url, timeout=TIMEOUT_S)
    SEEN[case.operation.label] += 1
    STATUS[response.status_code] += 1
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    code = headers.get("x-amzn-errortype")
    if response.status_code >= 400:
        assert code, where
        body = response.json()
        assert isinstance(body, dict), where
        message = body.get("message", body.get("Message"))
        assert isinstance(message, str), where
        assert "Traceback" not in message, where
    if response.status_code >= 500:
        # Deliberate ServiceExceptions only: never the catch-all for an unexpected exception.
        assert code == "ServiceException", where
        assert "An internal error occurred" not in response.text, where
