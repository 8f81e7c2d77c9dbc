"""Hot reload of template functions (``keepwarm serve --watch``).

Why reload on the next cold start only: warm state is the point of keepwarm; a change replaces
the function's pool (idle environments stop now, busy ones finish their invocation), so the
*next* invocation is a cold start on the new code, and nothing reloads per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from keepwarm.config import FunctionConfig
from keepwarm.errors import KeepwarmError
from keepwarm.registry.model import LATEST, FunctionRecord, change_tags, tags_after
from keepwarm.registry.names import FunctionRef
from keepwarm.registry.records import template_record
from keepwarm.registry.service import FunctionService

log = logging.getLogger("keepwarm.watch")


class _Filter(DefaultFilter):
    """The default filter (caches, VCS dirs) plus keepwarm's own data dir."""

    def __init__(self, ignore: Path) -> None:
        super().__init__()
        self._ignore = str(ignore.resolve())

    def __call__(self, change: Change, path: str) -> bool:
        return not path.startswith(self._ignore) and bool(super().__call__(change, path))


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


Load = Callable[[], list[FunctionConfig]]


async def reload(load: Load, service: FunctionService, changed: set[Path]) -> list[str]:
    """Re-read the template (with ``load``, the one start-up used, so ``--parameter-overrides``
    still apply) and redeploy every template function whose code or definition changed;
    returns the names redeployed."""
    try:
        configs = await asyncio.to_thread(load)
    except (KeepwarmError, OSError) as exc:
        log.warning("keepwarm: template not reloaded: %s", exc)
        return []
    redeployed = []
    for config in configs:
        async with service.code_lock:  # no publish in between: it would miss the swap
            if await _redeploy(service, config, changed):
                redeployed.append(config.name)
    if redeployed:
        log.warning("keepwarm: reloaded %s", ", ".join(redeployed))
    await _remove_missing(service, {config.name for config in configs})
    return redeployed


async def _redeploy(service: FunctionService, config: FunctionConfig, changed: set[Path]) -> bool:
    """One template function again, if its code or definition changed; with
    AutoPublishAlias, published as a deploy of the stack would (see auto_publish)."""
    old = service.records.get(config.name)
    touched = any(_under(p, config.code_dir) for p in changed)
    fresh = await asyncio.to_thread(template_record, config, service.server.data_dir)
    if old is not None and old.origin == "template" and not touched and _same(old, fresh):
        return False
    service.shadow(config.name)
    if old is not None and old.origin == "template":
        _carry_over(old, fresh)
    service.records[config.name] = fresh
    await service.deploy(fresh, fresh.latest)
    if config.auto_publish_alias:
        await service.auto_publish(fresh, config)
    return True


def _carry_over(old: FunctionRecord, fresh: FunctionRecord) -> None:
    """What a reloaded template function keeps: its versions (each with its own snapshot of
    the code) and aliases, and the event-invoke configs and tag changes the API made."""
    fresh.event_invoke = {**old.event_invoke, **fresh.event_invoke}
    change_tags(fresh, old.tag_changes)
    fresh.versions, fresh.aliases, fresh.next_version = old.versions, old.aliases, old.next_version


async def _remove_missing(service: FunctionService, kept: set[str]) -> None:
    """Template functions the template no longer defines go, as DeleteFunction would do."""
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
    if gone:
        log.warning("keepwarm: removed %s", ", ".join(gone))


_COMPARED = (
    "handler", "runtime", "memory", "timeout", "environment", "code_sha256", "code_dir",
    "ephemeral_storage", "extras", "logging_config", "description", "role", "architectures",
    "layers", "tracing_mode",
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


async def watch_template(
    template: Path, load: Load, service: FunctionService, stop: asyncio.Event
) -> None:
    roots = {template.resolve().parent if template.is_file() else template.resolve()}
    roots |= {Path(r.latest.code_dir) for r in service.records.values() if r.origin == "template"}
    roots = {r for r in roots if not any(_under(r, other) for other in roots if other != r)}
    watch_filter = _Filter(service.server.data_dir)
    async for changes in awatch(
        *roots, watch_filter=watch_filter, debounce=200, step=50, stop_event=stop
    ):
        await reload(load, service, {Path(path).resolve() for _change, path in changes})
