"""The code each version runs: snapshots of template code, and code no version runs any more.

Why snapshots: a published version is immutable on Lambda (code and configuration), but a
template function's ``$LATEST`` runs from the user's directory, which keeps changing. So
publishing one (PublishVersion, AutoPublishAlias) copies that directory into the data dir
(``code/<name>/snapshot-<digest>``) and the version runs the copy, while ``$LATEST`` keeps
running the directory itself. A snapshot goes when no version uses it any more and the last
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

    async def refresh_digest(self, record: FunctionRecord) -> None:
        """``$LATEST``'s CodeSha256 and CodeSize as its directory is now (without --watch they
        date from the start), so publishing compares and guards against the code it copies.
        New code is an update: a new RevisionId and LastModified, stored at once so that a
        restart with this code keeps them."""
        latest = record.latest
        if not self.live(latest):
            return
        sha, size = await asyncio.to_thread(
            code.directory_digest, Path(latest.code_dir), self.server.data_dir
        )
        if record.latest is latest and (sha, size) != (latest.code_sha256, latest.code_size):
            record.latest = latest.changed(code_sha256=sha, code_size=size)
            await self.persist(record)

    async def frozen_code(self, spec: FunctionSpec) -> dict[str, Any]:
        """The code fields a version published from ``spec`` gets: a snapshot of a live
        directory (hold ``code_lock`` until the version is recorded), else ``spec``'s own."""
        if not self.live(spec):
            return {}
        folder, sha, size = await asyncio.to_thread(
            code.snapshot,
            Path(spec.code_dir),
            self.code_root / spec.name,
            self.server.data_dir,
            (spec.code_sha256, spec.code_size),  # just read (PublishVersion, a reload)
        )
        return {"code_dir": str(folder), "code_sha256": sha, "code_size": size}

    # -- removal -------------------------------------------------------------------------------
    def _used(self, names: Iterable[str] | None = None) -> set[Path]:
        records = [*self.records.values(), *self.shadowed.values()]
        return {
            Path(s.code_dir).resolve()
            for r in records
            if names is None or r.name in names
            for s in (r.latest, *r.versions.values())
            if s.code_dir
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
