"""The ASGI app: the route table, AWS error rendering, and a lifespan that runs the backend.

Why the lifespan owns the runtime: environments, the dispatcher and SQLite threads belong to
uvicorn's event loop and must start after it and stop (every child process with them) before it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from keepwarm.errors import ServiceError, ServiceFailure
from keepwarm.lambda_api import _render, unimplemented
from keepwarm.lambda_api.backend import Backend, ServeOptions
from keepwarm.lambda_api.fast_invoke import FastInvoke
from keepwarm.lambda_api.routes import allowed_methods, starlette_routes

log = logging.getLogger("keepwarm.serve")


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return _render.error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    missing = unimplemented.error_at(request.scope) if exc.status_code == 404 else None
    if missing is not None:
        return _render.error_response(missing)
    routes = request.app.router.routes
    allow = allowed_methods(routes, request.scope) if exc.status_code == 405 else None
    return _render.http_error_response(exc, allow)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client left while sending its body, or the body clock closed it (see ``_http``):
    nobody to answer (uvicorn drops what is sent now), and nothing went wrong here."""
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("keepwarm: internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return _render.error_response(ServiceFailure("An internal error occurred in keepwarm."))


def create_app(options: ServeOptions, on_ready: object = None) -> FastInvoke:
    """The app for ``options``; ``on_ready()`` runs once the backend has started."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        backend = Backend(options)
        app.state.backend = backend
        try:
            try:
                await backend.start()
            except ConnectionError as exc:  # a service it needs (a Ray cluster) is not there
                app.state.refused = str(exc)
                raise
            if callable(on_ready):
                on_ready()
            yield
        finally:
            await backend.close()

    app = Starlette(
        routes=starlette_routes(),
        lifespan=lifespan,
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
    )
    app.router.redirect_slashes = False  # Lambda redirects nothing: a miss is a miss
    return FastInvoke(app)
