"""The code each version runs: snapshots of template code, and code no version runs any more.

Why snapshots: a published version is immutable on Lambda (code and configuration), but a
template function's ``$LATEST`` runs from the user's directory, which keeps changing. So
publishing one (PublishVersion, AutoPublishAlias) copies that directory into the data dir
(``code/<name>/snapshot-<digest>``) and the version runs the copy, while ``$LATEST`` keeps
running the directory itself. A template's layer directories likewise: they change in place,
where on Lambda new content is a new layer version, so a version keeps the layers it was
published with, and new layer content makes ``$LATEST`` differ from the last version (its
``layer_sha256``), as new code does. A snapshot goes when no version uses it any more and the last
environment that ran it is gone (code an invocation still imports from must not vanish).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keepwarm.registry import code
from keepwarm.registry.base import RegistryBase, log
from keepwarm.registry.model import FunctionRecord, FunctionSpec


class CodeOps(RegistryBase):
    def live(self, spec: FunctionSpec) -> bool:
        """Whether ``spec`` runs a directory that may still change (a template's own code)
        rather than code the data dir holds (an unpacked package, a snapshot) or no code at all
        (a Failed template function: its empty ``code_dir`` would be the working directory)."""
        if not spec.code_dir:
            return False
        return not Path(spec.code_dir).resolve().is_relative_to(self.code_root.resolve())

    def _live_dir(self, path: str) -> bool:
        """A directory that may still change: not one the data dir holds (an unpacked package,
        a snapshot, a published layer)."""
        return not Path(path).resolve().is_relative_to(self.server.data_dir.resolve())

    async def refresh_digest(self, record: FunctionRecord) -> None:
        """``$LATEST``'s CodeSha256 and CodeSize, and its layers' digest, as its directories
        are now (without --watch they date from the start), so publishing compares and guards
        against the code it copies. New code is an update: a new RevisionId and LastModified,
        stored at once so that a restart with this code keeps them."""
        latest = record.latest
        changes: dict[str, Any] = {}
        if self.live(latest):
            sha, size = await asyncio.to_thread(
                code.directory_digest, Path(latest.code_dir), self.server.data_dir
            )
            changes = {"code_sha256": sha, "code_size": size}
        if latest.layer_sha256:
            changes["layer_sha256"] = await asyncio.to_thread(
                code.layers_digest, latest.layer_dirs, self.server.data_dir
            )
        if record.latest is latest and any(getattr(latest, k) != v for k, v in changes.items()):
            record.latest = latest.changed(**changes)
            await self.persist(record)

    async def frozen_code(self, spec: FunctionSpec) -> dict[str, Any]:
        """The code fields a version published from ``spec`` gets: snapshots of a live code
        directory and of live layer directories (a template's, which change in place; hold
        ``code_lock`` until the version is recorded), else ``spec``'s own."""
        out: dict[str, Any] = {}
        if self.live(spec):
            folder, sha, size = await self._snapshot(
                spec, spec.code_dir, (spec.code_sha256, spec.code_size)
            )
            out = {"code_dir": str(folder), "code_sha256": sha, "code_size": size}
        if any(self._live_dir(d) for d in spec.layer_dirs):
            layers = [
                str((await self._snapshot(spec, d))[0]) if self._live_dir(d) else d
                for d in spec.layer_dirs
            ]
            out["layer_dirs"] = tuple(layers)
        return out

    async def _snapshot(
        self, spec: FunctionSpec, directory: str, known: tuple[str, int] | None = None
    ) -> tuple[Path, str, int]:
        """``known``: the digest just read (PublishVersion, a reload), to spare a walk."""
        root, data = self.code_root / spec.name, self.server.data_dir
        return await asyncio.to_thread(code.snapshot, Path(directory), root, data, known)

    # -- removal -------------------------------------------------------------------------------
    def _used(self, names: Iterable[str] | None = None) -> set[Path]:
        records = [*self.records.values(), *self.shadowed.values()]
        return {
            Path(d).resolve()
            for r in records
            if names is None or r.name in names
            for s in (r.latest, *r.versions.values())
            for d in (s.code_dir, *s.layer_dirs)
            if d
        }

    async def release(self, name: str) -> None:
        """After a version (or a whole function) is deleted: remove the snapshots of ``name``
        no version uses, at once if its retired pools have drained, else when they have, so a
        running invocation keeps its code."""
        pools = self.runtime.router.retiring(name)
        if pools:

            async def later() -> None:
                await asyncio.gather(*(p.drained() for p in pools))
                await self._remove_unused_snapshots(name)

            task = asyncio.ensure_future(later())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        await self._remove_unused_snapshots(name)

    async def _remove_unused_snapshots(self, name: str) -> None:
        async with self.code_lock:
            folder = self.code_root / name
            used = self._used({name})
            unused = [
                entry
                for entry in (folder.iterdir() if folder.is_dir() else ())
                if entry.name.startswith(code.SNAPSHOT_PREFIX) and entry.resolve() not in used
            ]
            for entry in unused:
                await asyncio.to_thread(shutil.rmtree, entry, True)

    def collect_garbage(self) -> None:
        """Code directories no version refers to any more, at start-up (other deletes of
        packages are deferred to here so a draining environment never loses its code), and
        copies a crash cut short."""
        if not self.code_root.is_dir():
            return
        used = self._used()
        for fdir in self.code_root.iterdir():
            if fdir.name not in self.records:
                shutil.rmtree(fdir, ignore_errors=True)
                continue
            for entry in fdir.iterdir():
                if entry.name.startswith(".zip-"):  # a package write that never finished
                    entry.unlink(missing_ok=True)
                elif entry.is_dir() and entry.resolve() not in used:
                    shutil.rmtree(entry, ignore_errors=True)
                    entry.with_suffix(".zip").unlink(missing_ok=True)

    def drop_lost_versions(self, record: FunctionRecord) -> None:
        """Versions restored from the store whose snapshot is gone (the data dir's code was
        removed by hand) cannot run: they go, with the aliases that point or route to them."""
        lost = {n for n, s in record.versions.items() if not Path(s.code_dir).is_dir()}
        if not lost:
            return
        log.warning(
            "keepwarm: %s: versions %s dropped: their code is gone from the data dir",
            record.name,
            ", ".join(sorted(lost, key=int)),
        )
        for number in lost:
            del record.versions[number]
        for alias in [
            a
            for a in record.aliases.values()
            if a.function_version in lost or lost & set(a.weights)
        ]:
            del record.aliases[alias.name]
