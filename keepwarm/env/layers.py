"""Where a function's layers appear to it: merged at /opt, as on Lambda, or at their own paths.

Why both: /opt can only be the function's own in a mount namespace (root). Without one, the
layers stay where they are and every search path Lambda points at /opt (``sys.path``,
``NODE_PATH``, ``PATH``, ``LD_LIBRARY_PATH``, the custom runtime's ``/opt/bootstrap``) points
at them instead, the later layer first, so imports resolve as they would in the merged /opt;
code that opens ``/opt/...`` by its literal path needs the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keepwarm.config import FunctionConfig

OPT = "/opt"


@dataclass(frozen=True)
class LayerView:
    """``roots``: where the function finds layer content, first match wins; ``mounted``: the
    layers are merged at /opt (in the environment's namespace), else ``roots`` are theirs."""

    roots: tuple[str, ...]
    mounted: bool

    def python_paths(self, runtime: str) -> list[str]:
        """``sys.path`` entries after the task root, as Lambda's Python bootstrap adds them."""
        version = runtime.removeprefix("python")
        return [
            p
            for root in self.roots
            for p in (f"{root}/python/lib/python{version}/site-packages", f"{root}/python")
        ]

    def node_paths(self, runtime: str) -> list[str]:
        major = runtime.removeprefix("nodejs").split(".")[0]
        return [
            p
            for root in self.roots
            for p in (f"{root}/nodejs/node{major}/node_modules", f"{root}/nodejs/node_modules")
        ]

    def subdirs(self, name: str) -> str:
        """``bin`` or ``lib`` of every layer, as one ``:``-joined search path."""
        return ":".join(f"{root}/{name}" for root in self.roots)


def view(config: FunctionConfig, own_opt: bool) -> LayerView:
    """``own_opt``: this environment has a mount namespace whose /opt keepwarm may replace."""
    if own_opt:
        return LayerView((OPT,), True)
    return LayerView(tuple(str(d) for d in reversed(config.layer_dirs)), False)


def bootstrap(config: FunctionConfig, own_opt: bool) -> tuple[Path, str] | None:
    """The layer file a custom runtime starts from when its code has no ``bootstrap``: the
    file on this machine and the path the function's process execs it by."""
    for layer in reversed(config.layer_dirs):
        found = layer / "bootstrap"
        if found.exists() or found.is_symlink():
            return found, f"{OPT}/bootstrap" if own_opt else str(found)
    return None
