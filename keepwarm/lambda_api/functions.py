"""Control-plane handlers: each parses path/query/body, calls ``FunctionService``, renders.

Why so thin: the rules live in ``keepwarm.registry``; a handler here is one line of translation
in, one call, one line of translation out, which is what makes the route table the whole API.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from keepwarm.lambda_api._render import empty, json_response, read_json, zip_response
from keepwarm.lambda_api.endpoint import from_host_header
from keepwarm.lambda_api.invoke import backend
from keepwarm.registry.names import FunctionRef, parse_function
from keepwarm.registry.service import FunctionService


def _svc(request: Request) -> FunctionService:
    return backend(request).service


def _ref(request: Request) -> FunctionRef:
    return parse_function(
        request.path_params["FunctionName"],
        request.query_params.get("Qualifier"),
        _svc(request).server.region,
    )


def _q(request: Request, key: str) -> str | None:
    return request.query_params.get(key)


# -- functions ---------------------------------------------------------------------------------
async def create_function(request: Request) -> Response:
    return json_response(
        await _svc(request).create(await read_json(request, "CreateFunction")), 201
    )


async def get_function(request: Request) -> Response:
    svc = _svc(request)
    base = from_host_header(request.headers.get("host"), svc.public_url)
    return json_response(svc.get(_ref(request), base))


async def get_function_configuration(request: Request) -> Response:
    return json_response(_svc(request).get_configuration(_ref(request)))


async def list_functions(request: Request) -> Response:
    svc = _svc(request)
    return json_response(
        svc.list(_q(request, "Marker"), _q(request, "MaxItems"), _q(request, "FunctionVersion"))
    )


async def update_function_code(request: Request) -> Response:
    return json_response(
        await _svc(request).update_code(
            _ref(request), await read_json(request, "UpdateFunctionCode")
        )
    )


async def update_function_configuration(request: Request) -> Response:
    body = await read_json(request, "UpdateFunctionConfiguration")
    return json_response(await _svc(request).update_configuration(_ref(request), body))


async def delete_function(request: Request) -> Response:
    await _svc(request).delete(_ref(request))
    return empty(204)


async def get_code(request: Request) -> Response:
    """The package behind GetFunction's ``Code.Location`` (Lambda's presigned S3 URL)."""
    package = await _svc(request).code_zip(
        request.path_params["FunctionName"], request.path_params["Digest"]
    )
    return zip_response(package)


# -- versions and aliases ----------------------------------------------------------------------
async def publish_version(request: Request) -> Response:
    body = await read_json(request, "PublishVersion")
    return json_response(await _svc(request).publish_version(_ref(request), body), 201)


async def list_versions(request: Request) -> Response:
    svc = _svc(request)
    return json_response(
        svc.list_versions(_ref(request), _q(request, "Marker"), _q(request, "MaxItems"))
    )


async def create_alias(request: Request) -> Response:
    body = await read_json(request, "CreateAlias")
    return json_response(await _svc(request).create_alias(_ref(request), body), 201)


async def get_alias(request: Request) -> Response:
    return json_response(_svc(request).get_alias(_ref(request), request.path_params["Name"]))


async def update_alias(request: Request) -> Response:
    body = await read_json(request, "UpdateAlias")
    name = request.path_params["Name"]
    return json_response(await _svc(request).update_alias(_ref(request), name, body))


async def delete_alias(request: Request) -> Response:
    await _svc(request).delete_alias(_ref(request), request.path_params["Name"])
    return empty(204)


async def list_aliases(request: Request) -> Response:
    out = _svc(request).list_aliases(
        _ref(request),
        _q(request, "FunctionVersion"),
        _q(request, "Marker"),
        _q(request, "MaxItems"),
    )
    return json_response(out)


# -- concurrency, event-invoke config, account -------------------------------------------------
async def put_function_concurrency(request: Request) -> Response:
    body = await read_json(request, "PutFunctionConcurrency")
    return json_response(await _svc(request).put_concurrency(_ref(request), body))


async def get_function_concurrency(request: Request) -> Response:
    return json_response(_svc(request).get_concurrency(_ref(request)))


async def delete_function_concurrency(request: Request) -> Response:
    await _svc(request).delete_concurrency(_ref(request))
    return empty(204)


async def put_event_invoke_config(request: Request) -> Response:
    body = await read_json(request, "PutFunctionEventInvokeConfig")
    return json_response(await _svc(request).put_event_invoke_config(_ref(request), body))


async def update_event_invoke_config(request: Request) -> Response:
    body = await read_json(request, "UpdateFunctionEventInvokeConfig")
    return json_response(
        await _svc(request).put_event_invoke_config(_ref(request), body, merge=True)
    )


async def get_event_invoke_config(request: Request) -> Response:
    return json_response(_svc(request).get_event_invoke_config(_ref(request)))


async def delete_event_invoke_config(request: Request) -> Response:
    await _svc(request).delete_event_invoke_config(_ref(request))
    return empty(204)


async def list_event_invoke_configs(request: Request) -> Response:
    return json_response(_svc(request).list_event_invoke_configs(_ref(request)))


async def tag_resource(request: Request) -> Response:
    body = await read_json(request, "TagResource")
    await _svc(request).tag(request.path_params["Resource"], body)
    return empty(204)


async def untag_resource(request: Request) -> Response:
    keys = request.query_params.getlist("tagKeys")
    await _svc(request).untag(request.path_params["Resource"], keys)
    return empty(204)


async def list_tags(request: Request) -> Response:
    return json_response(_svc(request).list_tags(request.path_params["Resource"]))


async def get_account_settings(request: Request) -> Response:
    return json_response(_svc(request).account_settings())


async def metrics(request: Request) -> Response:
    from keepwarm.observe.metrics import CONTENT_TYPE

    body = backend(request).runtime.metrics.render()
    return Response(body, media_type=CONTENT_TYPE)


async def health(request: Request) -> Response:
    return json_response({"status": "ok", "functions": len(_svc(request).records)})
