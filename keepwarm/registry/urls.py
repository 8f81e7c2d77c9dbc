"""Function URLs: CreateFunctionUrlConfig, Get, Update, Delete and List, a template's URLs, and
the lookup that serves a request by its url-id.

Why a mixin over the other operations: a URL belongs to a function or one of its aliases and
goes with it (DeleteFunction, DeleteAlias, a function a --watch reload removes), so this class
wraps those deletions; the rules and shapes are ``url_rules``, the rows ``url_store``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keepwarm.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound, ServiceError
from keepwarm.registry.base import log
from keepwarm.registry.names import FunctionRef
from keepwarm.registry.paging import page_size
from keepwarm.registry.url_rules import (
    NO_FUNCTION,
    NO_RESOURCE,
    UrlConfig,
    check_auth_type,
    check_cors,
    check_invoke_mode,
    check_qualifier,
    function_url,
    new_url_id,
    shape,
    template_url_id,
)
from keepwarm.registry.url_store import UrlStore
from keepwarm.registry.versions import VersionOps

if TYPE_CHECKING:
    from keepwarm._sam_urls import TemplateUrl

Key = tuple[str, str | None]
URL_PAGE_LIMIT = 50


class UrlOps(VersionOps):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.urls: dict[Key, UrlConfig] = {}
        self._by_id: dict[str, UrlConfig] = {}
        self.url_store: UrlStore | None = self.store.urls if self.store is not None else None

    # -- the operations ------------------------------------------------------------------------
    async def create_url(
        self, ref: FunctionRef, query: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = _target(ref, query)
        auth = check_auth_type(body.get("AuthType"))
        mode = check_invoke_mode(body.get("InvokeMode"))
        cors = check_cors(body.get("Cors"))
        record = self.records.get(name)
        if record is None:
            raise ResourceNotFound(NO_FUNCTION)
        if (name, qualifier) in self.urls:
            raise ResourceConflict(
                f"Failed to create function url config for [functionArn = "
                f"{self.arn(name, qualifier)}]. Error message:  FunctionUrlConfig exists for "
                "this Lambda function"
            )
        if qualifier is not None and qualifier not in record.aliases:
            raise ResourceNotFound(NO_FUNCTION)
        url = UrlConfig(name, qualifier, new_url_id(), auth, cors, mode)
        url = dataclasses.replace(url, last_modified_time=url.creation_time)
        self._put(url)
        await self._save(url)
        return self._shape(url, created=True)

    def get_url(self, ref: FunctionRef, query: str | None) -> dict[str, Any]:
        return self._shape(self._existing(ref, query, NO_RESOURCE))

    async def update_url(
        self, ref: FunctionRef, query: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = _target(ref, query)
        changes: dict[str, Any] = {}
        if body.get("AuthType") is not None:
            changes["auth_type"] = check_auth_type(body["AuthType"])
        if body.get("InvokeMode") is not None:
            changes["invoke_mode"] = check_invoke_mode(body["InvokeMode"])
        if body.get("Cors") is not None:
            changes["cors"] = check_cors(body["Cors"])
        url = self._existing(FunctionRef(name, qualifier), None, NO_FUNCTION).changed(**changes)
        self._put(url)
        await self._save(url)
        return self._shape(url)

    async def delete_url(self, ref: FunctionRef, query: str | None) -> None:
        url = self._existing(ref, query, NO_RESOURCE)
        await self._drop_url(url)

    def list_urls(
        self, ref: FunctionRef, marker: str | None, max_items: str | None
    ) -> dict[str, Any]:
        if ref.name not in self.records:
            raise ResourceNotFound(NO_FUNCTION)
        size = page_size(max_items, high=URL_PAGE_LIMIT)
        shapes = sorted(
            (self._shape(u) for (name, _), u in self.urls.items() if name == ref.name),
            key=lambda s: str(s["FunctionArn"]),
        )
        start = 0
        if marker:  # the next page's first FunctionArn: a URL deleted meanwhile skips none
            start = next(
                (i for i, s in enumerate(shapes) if s["FunctionArn"] >= marker), len(shapes)
            )
        out: dict[str, Any] = {"FunctionUrlConfigs": shapes[start : start + size]}
        if start + size < len(shapes):
            out["NextMarker"] = shapes[start + size]["FunctionArn"]
        return out

    # -- what serving a request needs ----------------------------------------------------------
    def url_target(self, url_id: str) -> tuple[UrlConfig, FunctionRef] | None:
        """The URL ``url_id`` names and what it invokes; None when there is none (or its
        function or alias went in a way that did not say so, an AutoPublishAlias renamed)."""
        url = self._by_id.get(url_id)
        if url is None or not self._target_exists(url.function, url.qualifier):
            return None
        return url, FunctionRef(url.function, url.qualifier)

    def url_of(self, url: UrlConfig) -> str:
        port = urlsplit(self.public_url).port if self.public_url else None
        return function_url(url.url_id, self.server.region, port)

    # -- start-up: stored URLs, then the template's --------------------------------------------
    async def load_urls(self, template_urls: Sequence[TemplateUrl] = ()) -> None:
        stored = await asyncio.to_thread(self.url_store.load_all) if self.url_store else []
        for url in stored:
            if self._target_exists(url.function, url.qualifier):
                self._put(url)
            elif self.url_store is not None:  # its function went while the server was down
                await self.url_store.delete(url.function, url.qualifier)
        for spec in template_urls:
            try:
                self._apply_template(spec)
            except ServiceError as exc:
                log.warning("keepwarm: %s: no function URL: %s", spec.label, exc.message)

    async def reload_urls(self, template_urls: Sequence[TemplateUrl]) -> list[UrlConfig]:
        """A ``--watch`` reload's URLs, as a stack update makes them: new ones made, changed
        ones changed (same url-id), dropped ones gone; an API-made URL is left as it is.
        Returns the URLs made, for the log."""
        wanted = {(spec.function, spec.qualifier) for spec in template_urls}
        for key, url in list(self.urls.items()):
            if url.origin == "template" and key not in wanted:
                await self._drop_url(url)
        made = []
        for spec in template_urls:
            before = self.urls.get((spec.function, spec.qualifier))
            if before is not None and before.origin == "api":
                continue
            try:
                self._apply_template(spec)
            except ServiceError as exc:
                log.warning("keepwarm: %s: no function URL: %s", spec.label, exc.message)
                continue
            if before is None:
                made.append(self.urls[(spec.function, spec.qualifier)])
        return made

    def _apply_template(self, spec: TemplateUrl) -> None:
        """A template's URL, as its stack would make it: on the function, or on its alias
        (SAM's ``FunctionUrlConfig`` with ``AutoPublishAlias``, or ``Qualifier``)."""
        check_qualifier(spec.qualifier)
        auth = check_auth_type(spec.auth_type)
        mode = check_invoke_mode(spec.invoke_mode)
        cors = check_cors(spec.cors)
        if spec.function not in self.records:
            raise ResourceNotFound(f"function {spec.function} is not served here")
        if not self._target_exists(spec.function, spec.qualifier):
            raise ResourceNotFound(f"alias {spec.qualifier} of {spec.function} does not exist")
        current = self.urls.get((spec.function, spec.qualifier))
        if current is not None and current.origin == "api":
            raise ResourceConflict(
                "a function URL created through the API exists for it and is left as it is "
                "(delete it with DeleteFunctionUrlConfig and the next start makes the template's)"
            )
        url_id = template_url_id(spec.function, spec.qualifier)
        url = UrlConfig(spec.function, spec.qualifier, url_id, auth, cors, mode, origin="template")
        self._put(dataclasses.replace(url, last_modified_time=url.creation_time))

    # -- a URL goes with its function and its alias --------------------------------------------
    async def delete(self, ref: FunctionRef) -> None:
        await super().delete(ref)
        if ref.qualifier is None:
            for url in [u for (name, _), u in self.urls.items() if name == ref.name]:
                await self._drop_url(url)
            if self.url_store is not None:  # rows of URLs not loaded (an unknown alias)
                await self.url_store.delete(ref.name, every=True)

    async def delete_alias(self, ref: FunctionRef, name: str) -> None:
        await super().delete_alias(ref, name)
        url = self.urls.get((ref.name, name))
        if url is not None:
            await self._drop_url(url)

    # -- helpers -------------------------------------------------------------------------------
    def _existing(self, ref: FunctionRef, query: str | None, missing: str) -> UrlConfig:
        """The URL a Get/Update/Delete names; ``missing`` is what Lambda says when the function
        or alias does not exist (a missing URL is always "resource ... does not exist")."""
        name, qualifier = _target(ref, query)
        if not self._target_exists(name, qualifier):
            raise ResourceNotFound(missing)
        url = self.urls.get((name, qualifier))
        if url is None:
            raise ResourceNotFound(NO_RESOURCE)
        return url

    def _target_exists(self, name: str, qualifier: str | None) -> bool:
        record = self.records.get(name)
        return record is not None and (qualifier is None or qualifier in record.aliases)

    def _put(self, url: UrlConfig) -> None:
        old = self.urls.get((url.function, url.qualifier))
        if old is not None:
            self._by_id.pop(old.url_id, None)
        self.urls[(url.function, url.qualifier)] = url
        self._by_id[url.url_id] = url

    async def _save(self, url: UrlConfig) -> None:
        """An API URL's row; a template's URL is the template's (made again at each start)."""
        if url.origin == "api" and self.url_store is not None:
            await self.url_store.save(url)

    async def _drop_url(self, url: UrlConfig) -> None:
        self.urls.pop((url.function, url.qualifier), None)
        self._by_id.pop(url.url_id, None)
        if url.origin == "api" and self.url_store is not None:
            await self.url_store.delete(url.function, url.qualifier)

    def _shape(self, url: UrlConfig, created: bool = False) -> dict[str, Any]:
        return shape(url, self.arn(url.function, url.qualifier), self.url_of(url), created)


def _target(ref: FunctionRef, query: str | None) -> tuple[str, str | None]:
    """The function and qualifier a request names: ``?Qualifier=`` and a ``:qualifier`` in the
    name must agree, and a qualifier must be an alias (a version or ``$LATEST`` is refused by
    its pattern, before anything else is looked at, as on AWS)."""
    qualifier = query or None
    if qualifier is not None and ref.qualifier is not None and qualifier != ref.qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    qualifier = qualifier or ref.qualifier
    check_qualifier(qualifier)
    return ref.name, qualifier
