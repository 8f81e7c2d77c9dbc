"""The layer versions keepwarm holds: published ones (tombstones included) and a template's.

Why apart from the operations (``layers``): this is the state and how it is read (which version
a name and number mean, which are visible, the next number) and kept (loaded at start, a
template's layers set at start and each reload, content no one runs removed at start); the
operations only check their inputs and apply one change each.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keepwarm.config import LayerConfig, ServerConfig
from keepwarm.registry import code
from keepwarm.registry.layer_inputs import check_layer_name
from keepwarm.registry.layer_model import TEMPLATE, LayerVersion, parse_arn
from keepwarm.registry.model import now_iso

if TYPE_CHECKING:
    from keepwarm.registry.layer_store import LayerStore

log = logging.getLogger("keepwarm.registry")


class LayerIndex:
    def __init__(self, server: ServerConfig, store: LayerStore | None) -> None:
        self.server = server
        self.store = store
        self._published: dict[str, dict[int, LayerVersion]] = {}  # tombstones included
        self._template: dict[str, LayerVersion] = {}  # version 1 of each template layer
        self._publishing = asyncio.Lock()  # one unpack and numbering at a time

    @property
    def root(self) -> Path:
        return self.server.data_dir / "layers"

    # -- lookup --------------------------------------------------------------------------------
    def _held(self, name: str, version: int, deleted: bool = False) -> LayerVersion | None:
        """The version keepwarm holds (a deleted one only with ``deleted``); a template's
        layer is version 1 of its name, over a published version 1."""
        template = self._template.get(name)
        found = template if template is not None and version == 1 else None
        found = found or self._published.get(name, {}).get(version)
        if found is None or (found.deleted and not deleted):
            return None
        return found

    def _visible(self, name: str) -> list[LayerVersion]:
        """The versions of ``name`` that can be read and named, newest first."""
        found = {v: lv for v, lv in self._published.get(name, {}).items() if not lv.deleted}
        template = self._template.get(name)
        if template is not None:
            found.pop(1, None)
            if not template.deleted:
                found[1] = template
        return [found[v] for v in sorted(found, reverse=True)]

    def _next_version(self, name: str) -> int:
        numbers = [*self._published.get(name, {}), 1 if name in self._template else 0]
        return max(numbers) + 1

    def _name(self, raw: str) -> str | None:
        """The layer a LayerName names, None for a layer ARN of another account or region
        (nothing keepwarm holds)."""
        check_layer_name(raw)
        if not raw.startswith("arn:"):
            return raw
        ref = parse_arn(raw)
        if ref is None or (ref.region, ref.account) != (self.server.region, self.server.account_id):
            return None
        return ref.name

    # -- start-up, template, garbage -----------------------------------------------------------
    def load(self) -> None:
        """The published versions stored before (a plain thread: start-up)."""
        if self.store is None:
            return
        for layer in self.store.load_all():
            self._published.setdefault(layer.name, {})[layer.version] = layer

    async def set_template(self, configs: Sequence[LayerConfig]) -> None:
        """A template's layers, as version 1 of each name (at start-up and each reload); one
        whose content did not change keeps its CreatedDate."""
        fresh = {}
        for config in configs:
            folder = Path(config.content_dir).resolve()
            if not folder.is_dir():
                log.warning("keepwarm: layer %s: %s is not a directory", config.name, folder)
                continue
            sha, size = await asyncio.to_thread(code.directory_digest, folder, self.server.data_dir)
            old = self._template.get(config.name)
            same = old is not None and (old.code_sha256, old.content_dir) == (sha, str(folder))
            fresh[config.name] = _template_layer(
                config, folder, sha, size, old.created_date if same and old else now_iso()
            )
            if old is None and 1 in self._published.get(config.name, {}):
                log.warning(
                    "keepwarm: template layer %s is version 1 of its name, over the version 1 "
                    "published through the API",
                    config.name,
                )
        self._template = fresh

    def template_dirs(self) -> set[Path]:
        """The template's layers' directories (watched with --watch)."""
        return {Path(layer.content_dir) for layer in self._template.values()}

    def collect_garbage(self, used: Iterable[str]) -> None:
        """Unpacked layers no live version and no function (``used``) runs, their zips, and
        what a crash left half-written (a plain thread: start-up, before anything runs)."""
        if not self.root.is_dir():
            return
        keep = {Path(d).resolve() for d in used} | {
            Path(lv.content_dir).resolve()
            for versions in self._published.values()
            for lv in versions.values()
            if not lv.deleted
        }
        for folder in self.root.iterdir():
            if not folder.is_dir() or folder.is_symlink():
                continue
            for entry in folder.iterdir():
                if entry.is_dir() and entry.resolve() not in keep:
                    shutil.rmtree(entry, ignore_errors=True)
                elif entry.is_file() and not entry.with_suffix("").is_dir():
                    entry.unlink(missing_ok=True)  # the zip of content gone, or a cut write
            if not any(folder.iterdir()):
                folder.rmdir()


def _template_layer(
    config: LayerConfig, folder: Path, sha: str, size: int, created: str
) -> LayerVersion:
    """Lists a template doesn't give are left out of the answers, as Lambda leaves them."""
    return LayerVersion(
        name=config.name,
        version=1,
        content_dir=str(folder),
        code_sha256=sha,
        code_size=size,
        description=config.description,
        compatible_runtimes=tuple(config.compatible_runtimes) or None,
        compatible_architectures=tuple(config.compatible_architectures) or None,
        license_info=config.license_info,
        created_date=created,
        origin=TEMPLATE,
    )
