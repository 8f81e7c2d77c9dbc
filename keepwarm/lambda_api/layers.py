"""Layer handlers: each parses path/query/body, calls the registry's ``LayerRegistry``, renders.

Why so thin: the rules (names, numbering, what a deletion keeps) live in
``keepwarm.registry.layers``, as the function rules live in the rest of the registry.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from keepwarm.lambda_api._render import empty, json_response, read_json, zip_response
from keepwarm.lambda_api.endpoint import from_host_header
from keepwarm.lambda_api.invoke import backend
from keepwarm.registry.layers import LayerRegistry


def _layers(request: Request) -> LayerRegistry:
    return backend(request).service.layers


def _base(request: Request) -> str:
    """How the caller reached us: ``Content.Location`` starts with it."""
    return from_host_header(request.headers.get("host"), backend(request).service.public_url)


def _q(request: Request, key: str) -> str | None:
    return request.query_params.get(key)


async def publish_layer_version(request: Request) -> Response:
    body = await read_json(request, "PublishLayerVersion")
    name = request.path_params["LayerName"]
    return json_response(await _layers(request).publish(name, body, _base(request)), 201)


async def get_layer_version(request: Request) -> Response:
    name, version = request.path_params["LayerName"], request.path_params["VersionNumber"]
    return json_response(_layers(request).get(name, version, _base(request)))


async def get_layer_version_by_arn(request: Request) -> Response:
    return json_response(_layers(request).get_by_arn(_q(request, "Arn"), _base(request)))


async def list_layer_versions(request: Request) -> Response:
    out = _layers(request).list_versions(
        request.path_params["LayerName"],
        _q(request, "CompatibleRuntime"),
        _q(request, "CompatibleArchitecture"),
        _q(request, "Marker"),
        _q(request, "MaxItems"),
    )
    return json_response(out)


async def list_layers(request: Request) -> Response:
    out = _layers(request).list_layers(
        _q(request, "CompatibleRuntime"),
        _q(request, "CompatibleArchitecture"),
        _q(request, "Marker"),
        _q(request, "MaxItems"),
    )
    return json_response(out)


async def delete_layer_version(request: Request) -> Response:
    name, version = request.path_params["LayerName"], request.path_params["VersionNumber"]
    await _layers(request).delete(name, version)
    return empty(204)


async def get_layer_content(request: Request) -> Response:
    """The package behind GetLayerVersion's ``Content.Location`` (Lambda's presigned URL)."""
    package = await _layers(request).content_zip(
        request.path_params["LayerName"], request.path_params["Digest"]
    )
    return zip_response(package)
