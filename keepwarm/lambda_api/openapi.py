"""The OpenAPI 3 description of the served API, generated from the route table (``routes.ROUTES``).

Why generated: the route table is the one source of truth for paths, methods, operation names
and success statuses; a hand-written description would drift. What the table does not know (the
query parameters, headers and body shapes botocore sends) is added here per operation name,
from botocore's ``service-2.json`` (contract §4, §5), loosely: the point is to describe what
clients send so that a fuzzer can send it, and worse. Served at ``/openapi.json``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from keepwarm.lambda_api.shapes import BODIES

ERROR_STATUSES = {
    "400": "InvalidParameterValueException, ValidationException, InvalidRequestContentException",
    "403": "Authentication failed (with --auth sigv4)",
    "404": "ResourceNotFoundException",
    "409": "ResourceConflictException",
    "412": "PreconditionFailedException",
    "413": "RequestEntityTooLargeException",
    "415": "UnsupportedMediaTypeException",
    "429": "TooManyRequestsException",
    "500": "ServiceException",
}
NAME = {"type": "string", "minLength": 1, "maxLength": 170}
QUALIFIER = {"name": "Qualifier", "in": "query", "schema": {"type": "string", "maxLength": 128}}
PAGING = [
    {"name": "Marker", "in": "query", "schema": {"type": "string"}},
    {
        "name": "MaxItems",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 10000},
    },
]
INVOKE_HEADERS = [
    {
        "name": "X-Amz-Invocation-Type",
        "in": "header",
        "schema": {"type": "string", "enum": ["RequestResponse", "Event", "DryRun"]},
    },
    {
        "name": "X-Amz-Log-Type",
        "in": "header",
        "schema": {"type": "string", "enum": ["None", "Tail"]},
    },
    {"name": "X-Amz-Client-Context", "in": "header", "schema": {"type": "string"}},
]
QUALIFIED = {
    "Invoke",
    "GetFunction",
    "DeleteFunction",
    "GetFunctionConfiguration",
    "PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig",
    "CreateFunctionUrlConfig",
    "GetFunctionUrlConfig",
    "UpdateFunctionUrlConfig",
    "DeleteFunctionUrlConfig",
}
PAGED = {
    "ListFunctionUrlConfigs",
    "ListFunctions",
    "ListVersionsByFunction",
    "ListAliases",
    "ListFunctionEventInvokeConfigs",
    "ListLayers",
    "ListLayerVersions",
}
LAYER_FILTERS = [
    {"name": "CompatibleRuntime", "in": "query", "schema": {"type": "string"}},
    {"name": "CompatibleArchitecture", "in": "query", "schema": {"type": "string"}},
]


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"x-amzn-ErrorType": {"required": True, "schema": {"type": "string"}}},
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "anyOf": [{"required": ["message"]}, {"required": ["Message"]}],
                }
            }
        },
    }


def _parameters(name: str, path: str) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": NAME}
        for p in re.findall(r"{(\w+)}", path)
    ]
    if name in QUALIFIED:
        params.append(QUALIFIER)
    if name in PAGED:
        params.extend(PAGING)
    if name == "ListFunctions":
        params.append({"name": "FunctionVersion", "in": "query", "schema": {"type": "string"}})
    if name in ("ListLayers", "ListLayerVersions"):
        params.extend(LAYER_FILTERS)
    if name in ("Invoke", "InvokeAsync"):
        params.extend(INVOKE_HEADERS if name == "Invoke" else [])
    return params


def _operation(method: str, name: str, path: str, status: int) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": name,
        "parameters": _parameters(name, path),
        "responses": {str(status): {"description": "Success"}}
        | {code: _error_response(text) for code, text in ERROR_STATUSES.items()},
    }
    if name == "Invoke":
        op["responses"]["202"] = {"description": "Event accepted"}
        op["responses"]["204"] = {"description": "DryRun"}
    if name in ("Invoke", "InvokeAsync"):
        op["requestBody"] = {"content": {"application/json": {"schema": {}}}}
    elif name in BODIES:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": BODIES[name]}},
        }
    return op


def document() -> dict[str, Any]:
    """The OpenAPI 3.0 document for every row of the route table."""
    from keepwarm.lambda_api.routes import ROUTES  # here: routes imports this module

    paths: dict[str, dict[str, Any]] = {}
    for op in ROUTES:
        if op.path == "/openapi.json" or op.query:
            continue  # OpenAPI has one operation per method and path: the one without query
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(
            op.method, op.name, op.path, op.status
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "keepwarm: AWS Lambda API (2015-03-31 subset)",
            "version": "2015-03-31",
            "description": "Generated from keepwarm.lambda_api.routes.ROUTES.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
    }


_cached: dict[str, Any] | None = None


async def openapi_json(request: Request) -> JSONResponse:
    global _cached
    if _cached is None:
        _cached = document()
    return JSONResponse(_cached)
