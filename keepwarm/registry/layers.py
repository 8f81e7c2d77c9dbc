"""Lambda layers: PublishLayerVersion and its reads, and the layers a function names.

Why an object apart from the function records (the service's ``layers``): a layer version is
a resource of its own (functions only point at it by ARN), numbered per layer and never
renumbered. A published version's zip is unpacked into the data dir
(``layers/<name>/<sha256 hex>/``, beside the zip kept for ``Content.Location``); a template's
layer is version 1 of its name and runs the template's directory itself, as a template
function runs its code directory. What is held, and how it is kept, is ``layer_index``.

Deleting a version hides it (reads answer 404, new references are refused) but keeps its
content while a function may still run it: Lambda keeps a copy while functions refer to it.
Content no version and no function uses any more goes at the next start (as function code
does), so an invocation still draining on it never loses its /opt. Deleting a template's
layer hides it until the template is read again (a restart, a --watch reload), as
DeleteFunction does to a template function.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from keepwarm.config import MAX_LAYERS, FunctionConfig
from keepwarm.errors import InvalidParameterValue, ResourceNotFound
from keepwarm.registry import code
from keepwarm.registry.layer_index import LayerIndex, log
from keepwarm.registry.layer_inputs import (
    NOT_FOUND,
    check_by_arn,
    check_filters,
    layer_zip,
    publish_fields,
    version_number,
)
from keepwarm.registry.layer_model import (
    TEMPLATE,
    LayerRef,
    LayerVersion,
    layers_item,
    list_item,
    parse_arn,
    version_shape,
)
from keepwarm.registry.model import FunctionRecord, FunctionSpec
from keepwarm.registry.paging import page_size

LAYER_PAGE_LIMIT = 50  # MaxLayerListItems


class LayerRegistry(LayerIndex):
    def location(self, layer: LayerVersion, base: str) -> str:
        """``Content.Location``: the package, served unsigned like a function's code."""
        return f"{base}/_keepwarm/layers/{layer.name}/{code.hex_digest(layer.code_sha256)}.zip"

    # -- the operations ------------------------------------------------------------------------
    async def publish(self, raw_name: str, body: dict[str, Any], base: str) -> dict[str, Any]:
        """The zip unpacked and kept before the version is numbered and stored: a publish
        that fails leaves no version behind (only files the next start removes)."""
        name = self._name(raw_name)
        if name is None:
            raise InvalidParameterValue(
                f"keepwarm publishes layers of account {self.server.account_id} in "
                f"{self.server.region} only, not {raw_name}."
            )
        fields = publish_fields(body)
        data = layer_zip(body.get("Content"))
        async with self._publishing:
            content = await asyncio.to_thread(code.unpack, data, self.root / name)
            await asyncio.to_thread(code.store_zip, content.with_suffix(".zip"), data)
            layer = LayerVersion(
                name=name,
                version=self._next_version(name),
                content_dir=str(content),
                code_sha256=code.sha256_b64(data),
                code_size=len(data),
                **fields,
            )
            self._published.setdefault(name, {})[layer.version] = layer
            if self.store is not None:
                await self.store.save(layer)
        return version_shape(layer, self.server, self.location(layer, base))

    def get(self, raw_name: str, raw_version: str, base: str) -> dict[str, Any]:
        name = self._name(raw_name)
        layer = self._held(name, version_number(raw_version)) if name is not None else None
        if layer is None:
            raise ResourceNotFound(NOT_FOUND)
        return version_shape(layer, self.server, self.location(layer, base))

    def get_by_arn(self, arn: str | None, base: str) -> dict[str, Any]:
        ref = parse_arn(check_by_arn(arn))
        assert ref is not None and ref.version is not None  # the pattern says both are there
        mine = (ref.region, ref.account) == (self.server.region, self.server.account_id)
        layer = self._held(ref.name, ref.version) if mine else None
        if layer is None:
            raise ResourceNotFound(NOT_FOUND)
        return version_shape(layer, self.server, self.location(layer, base))

    def list_versions(
        self,
        raw_name: str,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: str | None,
    ) -> dict[str, Any]:
        """Newest first; a layer keepwarm does not hold has no versions (not an error)."""
        check_filters(runtime, architecture)
        size = page_size(max_items, LAYER_PAGE_LIMIT)
        name = self._name(raw_name)
        found = [
            lv
            for lv in (self._visible(name) if name is not None else [])
            if _matches(lv, runtime, architecture)
        ]
        start = 0
        if marker:
            below = _version_marker(marker)
            start = next((i for i, lv in enumerate(found) if lv.version <= below), len(found))
        page = found[start : start + size]
        out: dict[str, Any] = {"LayerVersions": [list_item(lv, self.server) for lv in page]}
        if start + size < len(found):
            out["NextMarker"] = str(found[start + size].version)
        return out

    def list_layers(
        self,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: str | None,
    ) -> dict[str, Any]:
        """Every layer with a version matching the filters, by name, each with the newest
        such version (``LatestMatchingVersion``)."""
        check_filters(runtime, architecture)
        size = page_size(max_items, LAYER_PAGE_LIMIT)
        latest = []
        for name in sorted(set(self._published) | set(self._template)):
            match = next(
                (lv for lv in self._visible(name) if _matches(lv, runtime, architecture)), None
            )
            if match is not None:
                latest.append(match)
        after = marker or ""
        start = next((i for i, lv in enumerate(latest) if lv.name >= after), len(latest))
        page = latest[start : start + size]
        out: dict[str, Any] = {"Layers": [layers_item(lv, self.server) for lv in page]}
        if start + size < len(latest):
            out["NextMarker"] = latest[start + size].name
        return out

    async def delete(self, raw_name: str, raw_version: str) -> None:
        """A version that does not exist (or no longer does) is deleted too, as on Lambda."""
        number = version_number(raw_version)
        name = self._name(raw_name)
        layer = self._held(name, number) if name is not None else None
        if layer is None:
            return
        gone = dataclasses.replace(layer, deleted=True)
        if layer.origin == TEMPLATE:
            self._template[layer.name] = gone
            return
        self._published[layer.name][layer.version] = gone
        if self.store is not None:
            await self.store.save(gone)

    async def content_zip(self, name: str, digest: str) -> Path | bytes:
        """The package behind ``Content.Location``: the published zip, or a template layer's
        directory zipped now. Unknown names and packages get one answer (an unsigned route)."""
        digest = digest.removesuffix(".zip")
        for layer in self._visible(name):
            if code.hex_digest(layer.code_sha256) != digest:
                continue
            if layer.origin == TEMPLATE:
                folder, skip = Path(layer.content_dir), self.server.data_dir
                return await asyncio.to_thread(code.zip_directory, folder, skip)
            stored = Path(layer.content_dir).with_suffix(".zip")
            if stored.is_file():
                return stored
        raise InvalidParameterValue("No such layer package.")

    # -- the layers of a function --------------------------------------------------------------
    def resolve(self, function: str, arns: Sequence[str]) -> tuple[str, ...]:
        """The content directories of the layers ``arns`` name that keepwarm holds, in their
        order. A layer of another account (a public layer of AWS's, say) is recorded but not
        mounted, and said once in the server's log; one of keepwarm's own account that it
        does not hold (or that was deleted) is refused, in Lambda's words."""
        refs = [(arn, parse_arn(arn)) for arn in arns]
        _check_one_version_each(refs)
        for _arn, ref in refs:
            if ref is not None and ref.region != self.server.region:
                raise InvalidParameterValue(
                    "Layers are not in the same region as the function. Layers are expected to "
                    f"be in region {self.server.region}."
                )
        dirs = []
        for arn, ref in refs:
            if ref is None or ref.version is None or ref.account != self.server.account_id:
                log.warning(
                    "keepwarm: %s: layer %s is of another account: recorded, not mounted",
                    function,
                    arn,
                )
                continue
            layer = self._held(ref.name, ref.version)
            if layer is None:
                raise InvalidParameterValue(f"Layer version {arn} does not exist.")
            dirs.append(layer.content_dir)
        return tuple(dirs)

    @property
    def _here(self) -> tuple[str, str]:
        return self.server.account_id, self.server.region

    def template_function(self, config: FunctionConfig) -> FunctionConfig:
        """A template function with every layer of its ``Layers`` keepwarm holds, in order:
        the template's own (registered here as version 1) and ones published through the API
        that it names by ARN, which the template reader cannot see. Nothing is refused here:
        the reader has said what it could not use."""
        dirs = []
        for arn in config.descriptive.layers:
            ref = parse_arn(arn)
            if ref is None or ref.version is None or (ref.account, ref.region) != self._here:
                continue
            layer = self._held(ref.name, ref.version)
            if layer is not None:
                dirs.append(Path(layer.content_dir))
        if tuple(dirs) == config.layer_dirs or len(dirs) > MAX_LAYERS:
            return config
        return config.with_changes(layer_dirs=tuple(dirs))

    def sizes(self, arns: Iterable[str]) -> dict[str, int]:
        """The CodeSize of each layer keepwarm holds or held (a function keeps running a
        version deleted after it was attached, and reports it)."""
        out = {}
        for arn in arns:
            ref = parse_arn(arn)
            if ref is None or ref.version is None or ref.account != self.server.account_id:
                continue
            layer = self._held(ref.name, ref.version, deleted=True)
            if layer is not None and ref.region == self.server.region:
                out[arn] = layer.code_size
        return out

    async def check_size(self, code_dir: str, layer_dirs: Sequence[str]) -> None:
        """Lambda's 250 MB bound on the code and its layers unzipped, together."""
        if not layer_dirs:
            return
        total = sum(
            await asyncio.gather(
                *(asyncio.to_thread(_tree_size, Path(d)) for d in (code_dir, *layer_dirs))
            )
        )
        if total > code.UNZIPPED_LIMIT:
            raise InvalidParameterValue(
                "Function code combined with layers exceeds the maximum allowed size of "
                f"{code.UNZIPPED_LIMIT} bytes. The actual size is {total} bytes."
            )


def _matches(layer: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    return (not runtime or runtime in (layer.compatible_runtimes or ())) and (
        not architecture or architecture in (layer.compatible_architectures or ())
    )


def _version_marker(marker: str) -> int:
    if not marker.isdigit():
        raise InvalidParameterValue(f"Invalid marker: {marker}")
    return int(marker)


def _check_one_version_each(refs: Sequence[tuple[str, LayerRef | None]]) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for arn, ref in refs:
        if ref is None:
            continue
        if ref.layer in seen:
            raise InvalidParameterValue(
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {seen[ref.layer]} and {arn} are versions of the same layer."
            )
        seen[ref.layer] = arn


def _tree_size(folder: Path) -> int:
    """What a directory holds unzipped: its regular files' sizes (links not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def drop_lost_layers(record: FunctionRecord) -> None:
    """Layers whose content is gone from the disk (removed by hand, or a template's layer
    directory deleted with it) are not mounted, with a warning: the function still runs,
    where refusing it would stop the whole server from starting."""
    for spec in (record.latest, *record.versions.values()):
        kept = tuple(d for d in spec.layer_dirs if Path(d).is_dir())
        if kept == spec.layer_dirs:
            continue
        lost = sorted(set(spec.layer_dirs) - set(kept))
        log.warning(
            "keepwarm: %s:%s: layer content gone, not mounted: %s",
            record.name,
            spec.version,
            ", ".join(lost),
        )
        fixed = dataclasses.replace(spec, layer_dirs=kept)
        if spec is record.latest:
            record.latest = fixed
        else:
            record.versions[spec.version] = fixed


def used_layer_dirs(specs: Iterable[FunctionSpec]) -> set[str]:
    """Every layer directory the given function versions run."""
    return {d for spec in specs for d in spec.layer_dirs}
