"""CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
DeleteFunctionUrlConfig and ListFunctionUrlConfigs: path, query and body in, the registry's
answer out (the rules are ``registry.urls``), and the lines ``keepwarm serve`` prints for a
template's URLs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from keepwarm.lambda_api._render import empty, json_response, read_json
from keepwarm.lambda_api.invoke import backend
from keepwarm.registry.names import FunctionRef, parse_function
from keepwarm.registry.service import FunctionService


def _svc(request: Request) -> FunctionService:
    return backend(request).service


def _ref(request: Request) -> FunctionRef:
    """The name as given (``?Qualifier=`` is the registry's to check: its pattern is the URL
    qualifier's, an alias, not Invoke's)."""
    return parse_function(request.path_params["FunctionName"], None, _svc(request).server.region)


def _qualifier(request: Request) -> str | None:
    return request.query_params.get("Qualifier")


async def create_url(request: Request) -> Response:
    body = await read_json(request, "CreateFunctionUrlConfig")
    return json_response(
        await _svc(request).create_url(_ref(request), _qualifier(request), body), 201
    )


async def get_url(request: Request) -> Response:
    return json_response(_svc(request).get_url(_ref(request), _qualifier(request)))


async def update_url(request: Request) -> Response:
    body = await read_json(request, "UpdateFunctionUrlConfig")
    return json_response(await _svc(request).update_url(_ref(request), _qualifier(request), body))


async def delete_url(request: Request) -> Response:
    await _svc(request).delete_url(_ref(request), _qualifier(request))
    return empty(204)


async def list_urls(request: Request) -> Response:
    query = request.query_params
    return json_response(
        _svc(request).list_urls(_ref(request), query.get("Marker"), query.get("MaxItems"))
    )


def template_url_lines(service: FunctionService) -> str:
    """One line per function URL the template made, as ``keepwarm serve`` starts."""
    lines = []
    for url in sorted(service.urls.values(), key=lambda u: (u.function, u.qualifier or "")):
        if url.origin != "template":
            continue
        signed = " (AuthType AWS_IAM: sign requests with SigV4, service lambda)"
        extra = signed if url.auth_type == "AWS_IAM" else ""
        lines.append(f"keepwarm: function URL of {url.label}: {service.url_of(url)}{extra}\n")
    return "".join(lines)
