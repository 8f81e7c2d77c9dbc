"""Hot reload of template functions (``keepwarm serve --watch``).

Why reload on the next cold start only: warm state is the point of keepwarm; a change replaces
the function's pool (idle environments stop now, busy ones finish their invocation), so the
*next* invocation is a cold start on the new code, and nothing reloads per request.

Why one function at a time: a function the template breaks becomes Failed and the others
reload as usual, as at start-up; and the watched directories are recomputed after each reload,
so a CodeUri that moves, or a new function's code directory, is watched from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change, DefaultFilter, awatch

from keepwarm.config import FunctionConfig
from keepwarm.errors import KeepwarmError
from keepwarm.registry.model import (
    FAILED,
    LATEST,
    FunctionRecord,
    api_event_invoke,
    change_tags,
    tags_after,
)
from keepwarm.registry.names import FunctionRef
from keepwarm.registry.records import failed_record, template_record
from keepwarm.registry.service import FunctionService

if TYPE_CHECKING:
    from keepwarm.template import BrokenFunction, Template

log = logging.getLogger("keepwarm.watch")
RETRY_S = 1.0  # a directory that vanished while a watcher started: try again after this


class _Filter(DefaultFilter):
    """The default filter (caches, VCS dirs) plus keepwarm's own data dir."""

    def __init__(self, ignore: Path) -> None:
        super().__init__()
        self._ignore = str(ignore.resolve())

    def __call__(self, change: Change, path: str) -> bool:
        return not path.startswith(self._ignore) and bool(super().__call__(change, path))


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


Load = Callable[[], "Template"]


async def reload(load: Load, service: FunctionService, changed: set[Path]) -> list[str]:
    """Re-read the template (with ``load``, the one start-up used, so ``--parameter-overrides``
    still apply) and apply it function by function: redeploy those whose code or definition
    changed, mark Failed those that cannot run any more, delete those it dropped; returns the
    names redeployed. Only an error of the template as a whole keeps it all."""
    try:
        loaded = await asyncio.to_thread(load)
    except (KeepwarmError, OSError) as exc:
        log.warning("keepwarm: template not reloaded: %s", exc)
        return []
    redeployed, failed = [], []
    await service.layers.set_template(loaded.layers)
    for config in loaded.functions:
        async with service.code_lock:  # no publish in between: it would miss the swap
            if await _redeploy(service, config, changed):
                redeployed.append(config.name)
    for broken in loaded.broken:
        async with service.code_lock:
            if await _fail(service, broken):
                failed.append(broken)
    kept = {c.name for c in loaded.functions} | {b.name for b in loaded.broken if b.name}
    removed = await _remove_missing(service, kept)
    for url in await service.reload_urls(loaded.urls):
        log.warning("keepwarm: function URL of %s: %s", url.label, service.url_of(url))
    if redeployed or failed or removed:
        loaded.log_warnings()
    for broken in failed:
        log.warning("%s", broken.describe())
    if redeployed:
        log.warning("keepwarm: reloaded %s", ", ".join(redeployed))
    if removed:
        log.warning("keepwarm: removed %s", ", ".join(removed))
    return redeployed


async def _redeploy(service: FunctionService, config: FunctionConfig, changed: set[Path]) -> bool:
    """One runnable template function again, if its code or definition changed (or it was
    Failed); its AutoPublishAlias applied as a deploy of the stack would (see
    ``StackOps.auto_publish``). True when it was redeployed."""
    config = service.layers.template_function(config)
    old = service.records.get(config.name)
    ours = old if old is not None and old.origin == "template" else None
    touched = any(_under(p, d) for p in changed for d in (config.code_dir, *config.layer_dirs))
    fresh = await asyncio.to_thread(template_record, config, service.server.data_dir)
    if ours is not None and ours.state != FAILED and not touched and _same(ours, fresh):
        return False
    service.shadow(config.name)
    if ours is not None:
        _carry_over(ours, fresh)
    service.records[config.name] = fresh
    if ours is None or ours.state == FAILED:  # new, or its environments went when it failed
        await service.deploy_all(fresh)
    else:
        await service.deploy(fresh, fresh.latest)
    await service.auto_publish(fresh, config)
    await service.persist(fresh)
    return True


async def _fail(service: FunctionService, broken: BrokenFunction) -> bool:
    """A function that cannot run any more: listed as Failed with the reason from now on (its
    versions and aliases kept for when it is fixed), its environments stopped. False when it
    already was, for the same reason (said once; a new Runtime or Handler is only shown)."""
    if broken.name is None:
        return True  # nothing to list it under; only said
    old = service.records.get(broken.name)
    ours = old if old is not None and old.origin == "template" else None
    reason = (broken.reason, broken.reason_code)
    said = ours.state_reason if ours is not None else None
    shown = (ours.latest.runtime, ours.latest.handler) if ours is not None else None
    if said == reason and shown == (broken.runtime, broken.handler):
        return False
    failed = failed_record(broken)
    service.shadow(broken.name)
    if ours is not None:
        _carry_over(ours, failed)
    service.records[broken.name] = failed  # first: invocations now get the reason, not a 404
    await service.runtime.router.remove(broken.name)
    await service.persist(failed)
    return said != reason


def _carry_over(old: FunctionRecord, fresh: FunctionRecord) -> None:
    """What a reloaded template function keeps: its versions (each with its own snapshot of
    the code) and aliases (knowing which one the template made), the event-invoke configs and
    tag changes the API made, and ``$LATEST``'s RevisionId if nothing GetFunction shows
    changed."""
    fresh.event_invoke = {**api_event_invoke(old), **fresh.event_invoke}
    change_tags(fresh, old.tag_changes)
    fresh.versions, fresh.aliases, fresh.next_version = old.versions, old.aliases, old.next_version
    fresh.template_alias = old.template_alias
    fresh.latest = fresh.latest.revised_from(old.latest)


async def _remove_missing(service: FunctionService, kept: set[str]) -> list[str]:
    """Template functions the template no longer defines go, as DeleteFunction would do;
    returns their names."""
    gone = [n for n, r in service.records.items() if r.origin == "template" and n not in kept]
    for name in gone:
        hidden = service.shadowed.pop(name, None)
        if hidden is None:
            await service.delete(FunctionRef(name, None))
            continue
        service.records[name] = hidden  # the API function it hid comes back, with no gap
        await service.deploy_all(hidden)  # in which its name would find no pool
        router = service.runtime.router
        versions = {LATEST, *hidden.versions}
        for version in [v for n, v in list(router.pools) if n == name and v not in versions]:
            await router.remove(name, version)
        await service.release(name)
    return gone


_COMPARED = (
    "handler", "runtime", "memory", "timeout", "environment", "code_sha256", "code_dir",
    "ephemeral_storage", "extras", "logging_config", "description", "role", "architectures",
    "layers", "layer_dirs", "tracing_mode",
)  # fmt: skip


def _same(old: FunctionRecord, fresh: FunctionRecord) -> bool:
    """Everything a template sets: the Lambda fields, keepwarm's (``extras``: provisioned
    concurrency, reuse, ...) and reserved concurrency."""
    same_tags = old.tags == tags_after(fresh.tags, old.tag_changes)
    return (
        same_tags
        and old.reserved == fresh.reserved
        and all(getattr(old.latest, k) == getattr(fresh.latest, k) for k in _COMPARED)
    )


def watch_roots(template: Path, service: FunctionService) -> set[Path]:
    """The template's directory, the code directory of every template function that runs and
    the template's layers, leaving out those inside another and those that do not exist (they
    cannot be watched)."""
    roots = {template.resolve().parent if template.is_file() else template.resolve()}
    roots |= {
        Path(r.latest.code_dir)
        for r in service.records.values()
        if r.origin == "template" and r.state != FAILED
    }
    roots |= service.layers.template_dirs()
    roots = {r for r in roots if r.is_dir()}
    return {r for r in roots if not any(_under(r, other) for other in roots if other != r)}


class _Until:
    """One watcher's stop signal: the server stopping, or its directories changing (a new
    watcher then takes over). Read from the watcher's thread too."""

    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop
        self._replaced = False

    def is_set(self) -> bool:
        return self._replaced or self._stop.is_set()

    def set(self) -> None:
        self._replaced = True


async def watch_template(
    template: Path, load: Load, service: FunctionService, stop: asyncio.Event
) -> None:
    """Reload (with ``load``) on every change under the watched directories until ``stop``; a
    new watcher takes over whenever a reload changes which directories those are."""
    behind = False
    while not stop.is_set():
        try:
            await _watch(template, load, service, stop, behind)
        except OSError as exc:  # a directory removed while its watcher started
            log.warning("keepwarm: cannot watch the template's directories: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)
        behind = True


async def _watch(
    template: Path, load: Load, service: FunctionService, stop: asyncio.Event, behind: bool
) -> None:
    """One watcher over the current directories, until they change or ``stop``. ``behind``:
    no watcher ran for a moment, so the template and the code are compared once it watches
    (digests and definitions; a change made meanwhile has no event to report it)."""
    roots = watch_roots(template, service)
    until = _Until(stop)
    watch_filter = _Filter(service.server.data_dir)
    changes = awatch(*roots, watch_filter=watch_filter, debounce=200, step=50, stop_event=until)
    batch = asyncio.ensure_future(anext(changes, None))
    try:
        await asyncio.sleep(0)  # the watcher's first step watches ``roots``; later changes count
        if behind:
            await reload(load, service, set())
        while watch_roots(template, service) == roots:
            found = await batch
            if found is None:
                return
            await reload(load, service, {Path(path).resolve() for _change, path in found})
            batch = asyncio.ensure_future(anext(changes, None))
    finally:
        until.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await batch
        await changes.aclose()
