"""The route table: the single source of truth for the HTTP API (and /openapi.json).

Each row is (method, path, AWS operation name, success status, handler). Paths and statuses are
those of botocore's ``service-2.json`` (contract §5); ``/_keepwarm/*`` rows are keepwarm's own.
A row may also fix query members, as its model's request URI does (GetLayerVersionByArn is
``GET /2018-10-31/layers?find=LayerVersion``, ListLayers the same path without): the rows of
one method and path share a route, which picks the row whose query members the request has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from keepwarm.lambda_api import functions as f
from keepwarm.lambda_api import invoke as i
from keepwarm.lambda_api import layers as ly
from keepwarm.lambda_api import openapi as o
from keepwarm.lambda_api import url_config as u

Handler = Callable[[Request], Awaitable[Response]]
FN = "/2015-03-31/functions/{FunctionName}"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    status: int
    handler: Handler
    query: tuple[tuple[str, str], ...] = ()

    @property
    def uri(self) -> str:
        """The request URI as the model writes it (path, and the query members it fixes)."""
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    def wants(self, query: dict[str, str]) -> bool:
        return all(query.get(k) == v for k, v in self.query)


FNS = "/2015-03-31/functions"
CONC = "/2017-10-31/functions/{FunctionName}/concurrency"
EIC = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
ALIAS = f"{FN}/aliases/{{Name}}"
TAGS = "/2017-03-31/tags/{Resource}"
LAYERS = "/2018-10-31/layers"
LAYER_VERSIONS = f"{LAYERS}/{{LayerName}}/versions"
LAYER_VERSION = f"{LAYER_VERSIONS}/{{VersionNumber}}"
URL = "/2021-10-31/functions/{FunctionName}/url"

ROUTES: tuple[Operation, ...] = (
    Operation("POST", f"{FN}/invocations", "Invoke", 200, i.invoke),
    Operation(
        "POST",
        "/2014-11-13/functions/{FunctionName}/invoke-async/",
        "InvokeAsync",
        202,
        i.invoke_async,
    ),
    Operation("POST", FNS, "CreateFunction", 201, f.create_function),
    Operation("GET", FNS, "ListFunctions", 200, f.list_functions),
    Operation("GET", FN, "GetFunction", 200, f.get_function),
    Operation("DELETE", FN, "DeleteFunction", 204, f.delete_function),
    Operation(
        "GET",
        f"{FN}/configuration",
        "GetFunctionConfiguration",
        200,
        f.get_function_configuration,
    ),
    Operation(
        "PUT",
        f"{FN}/configuration",
        "UpdateFunctionConfiguration",
        200,
        f.update_function_configuration,
    ),
    Operation("PUT", f"{FN}/code", "UpdateFunctionCode", 200, f.update_function_code),
    Operation("POST", f"{FN}/versions", "PublishVersion", 201, f.publish_version),
    Operation("GET", f"{FN}/versions", "ListVersionsByFunction", 200, f.list_versions),
    Operation("POST", f"{FN}/aliases", "CreateAlias", 201, f.create_alias),
    Operation("GET", f"{FN}/aliases", "ListAliases", 200, f.list_aliases),
    Operation("GET", ALIAS, "GetAlias", 200, f.get_alias),
    Operation("PUT", ALIAS, "UpdateAlias", 200, f.update_alias),
    Operation("DELETE", ALIAS, "DeleteAlias", 204, f.delete_alias),
    Operation("PUT", CONC, "PutFunctionConcurrency", 200, f.put_function_concurrency),
    Operation("DELETE", CONC, "DeleteFunctionConcurrency", 204, f.delete_function_concurrency),
    Operation(
        "GET",
        "/2019-09-30/functions/{FunctionName}/concurrency",
        "GetFunctionConcurrency",
        200,
        f.get_function_concurrency,
    ),
    Operation("PUT", EIC, "PutFunctionEventInvokeConfig", 200, f.put_event_invoke_config),
    Operation("POST", EIC, "UpdateFunctionEventInvokeConfig", 200, f.update_event_invoke_config),
    Operation("GET", EIC, "GetFunctionEventInvokeConfig", 200, f.get_event_invoke_config),
    Operation("DELETE", EIC, "DeleteFunctionEventInvokeConfig", 204, f.delete_event_invoke_config),
    Operation(
        "GET", f"{EIC}/list", "ListFunctionEventInvokeConfigs", 200, f.list_event_invoke_configs
    ),
    Operation("POST", URL, "CreateFunctionUrlConfig", 201, u.create_url),
    Operation("GET", URL, "GetFunctionUrlConfig", 200, u.get_url),
    Operation("PUT", URL, "UpdateFunctionUrlConfig", 200, u.update_url),
    Operation("DELETE", URL, "DeleteFunctionUrlConfig", 204, u.delete_url),
    Operation("GET", f"{URL}s", "ListFunctionUrlConfigs", 200, u.list_urls),
    Operation("POST", TAGS, "TagResource", 204, f.tag_resource),
    Operation("DELETE", TAGS, "UntagResource", 204, f.untag_resource),
    Operation("GET", TAGS, "ListTags", 200, f.list_tags),
    Operation(
        "GET", "/2016-08-19/account-settings/", "GetAccountSettings", 200, f.get_account_settings
    ),
    Operation("POST", LAYER_VERSIONS, "PublishLayerVersion", 201, ly.publish_layer_version),
    Operation("GET", LAYER_VERSIONS, "ListLayerVersions", 200, ly.list_layer_versions),
    Operation("GET", LAYER_VERSION, "GetLayerVersion", 200, ly.get_layer_version),
    Operation("DELETE", LAYER_VERSION, "DeleteLayerVersion", 204, ly.delete_layer_version),
    Operation("GET", LAYERS, "ListLayers", 200, ly.list_layers),
    Operation(
        "GET",
        LAYERS,
        "GetLayerVersionByArn",
        200,
        ly.get_layer_version_by_arn,
        query=(("find", "LayerVersion"),),
    ),
    Operation("GET", "/_keepwarm/health", "KeepwarmHealth", 200, f.health),
    Operation("GET", "/metrics", "KeepwarmMetrics", 200, f.metrics),
    Operation("GET", "/_keepwarm/code/{FunctionName}/{Digest}", "KeepwarmGetCode", 200, f.get_code),
    Operation(
        "GET",
        "/_keepwarm/layers/{LayerName}/{Digest}",
        "KeepwarmGetLayerContent",
        200,
        ly.get_layer_content,
    ),
    Operation("GET", "/openapi.json", "KeepwarmOpenApi", 200, o.openapi_json),
)


def _sharing(op: Operation) -> list[Operation]:
    """The rows served at ``op``'s method and path, those that fix query members first."""
    rows = [r for r in ROUTES if (r.method, r.path) == (op.method, op.path)]
    return sorted(rows, key=lambda r: not r.query)


def _by_query(rows: list[Operation]) -> Handler:
    """One handler for rows sharing a method and path: the first whose query members the
    request has (the row that fixes none takes the rest)."""
    if len(rows) == 1:
        return rows[0].handler

    async def handler(request: Request) -> Response:
        given = dict(request.query_params)
        row = next((r for r in rows if r.wants(given)), rows[-1])
        return await row.handler(request)

    return handler


def starlette_routes() -> list[Route]:
    """Starlette routes; a path with a trailing slash also matches without it (and vice versa)."""
    routes: list[Route] = []
    for op in ROUTES:
        rows = _sharing(op)
        if op is not rows[-1]:
            continue  # served by the route of the row that fixes no query member
        handler = _by_query(rows)
        routes.append(Route(op.path, handler, methods=[op.method], name=op.name))
        alt = op.path.rstrip("/") if op.path.endswith("/") else None
        if alt:
            routes.append(Route(alt, handler, methods=[op.method], name=f"{op.name}:alt"))
    return routes


def allowed_methods(routes: Sequence[BaseRoute], scope: Any) -> str:
    """Every method served at the scope's path, for a 405's ``Allow`` (Starlette's names only
    the first matching route's: one row per method here)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


def operation_at(scope: Any) -> str | None:
    """The AWS operation a request's method, path and query name, if any (for errors raised
    before routing, such as a signed body over the size bound)."""
    given = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    for route in starlette_routes():
        if route.matches(scope)[0] is Match.FULL:
            name = str(route.name).removesuffix(":alt")
            served = next(op for op in ROUTES if op.name == name)
            return next(r.name for r in _sharing(served) if r.wants(given))
    return None
