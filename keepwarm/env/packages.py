"""What a Python function can import: its own code, the standard library, the packages
Lambda's Python runtimes ship (boto3 and what it needs), and what its ``requirements.txt``
would install (with their dependencies), as after ``sam build`` on Lambda.

Why: environments fork from a server that runs in keepwarm's virtualenv, so without this a
handler could import whatever is installed there (``pytest``, a package used but missing from
``requirements.txt``, even keepwarm's own repository), pass every local test, and then fail on
Lambda with ``Runtime.ImportModuleError``. The requirements are looked up in the server's
environment: a package listed there but not installed is not importable either. Two
exceptions, on purpose: ``keepwarm`` itself, so that ``keepwarm.orc`` works in handlers without
vendoring it, with ``redis`` for its shared tier; and modules the fork server had imported
before the fork (``orjson``, say), which stay importable. ``ServerConfig(host_packages=True)``
(``--host-packages``) turns all of this off.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.metadata
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from importlib.machinery import ModuleSpec
from importlib.metadata import Distribution, DistributionFinder
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

# boto3 and its dependency tree as the python3.x runtimes carry them; awslambdaric and the
# SnapStart hooks (snapshot_restore_py) live in /var/runtime there.
RUNTIME_PACKAGES = frozenset(
    {
        "boto3", "botocore", "jmespath", "s3transfer", "dateutil", "six", "urllib3",
        "awslambdaric", "snapshot_restore_py",
    }
)  # fmt: skip
KEEPWARM_PACKAGES = frozenset({"keepwarm", "redis"})
_INCLUDE = re.compile(r"(?:-r\s*|--requirement(?:\s*=\s*|\s+))(\S+)")
_COMMENT = re.compile(r"(^|\s)#.*$")
_OPTION = re.compile(r"\s+-{1,2}[A-Za-z]")
_ANY = DistributionFinder.Context()


class Importable(NamedTuple):
    """What a function may take from the server's packages: top-level module names, and the
    distributions whose metadata it may read (``importlib.metadata.version("boto3")``)."""

    modules: frozenset[str]
    dists: frozenset[str]


class RuntimePackages(importlib.abc.MetaPathFinder):
    """Finds only the named top-level packages, and the named distributions' metadata, in the
    host directories taken off ``sys.path`` (submodules come through their package's
    ``__path__``)."""

    def __init__(self, allowed: Importable, paths: list[str]) -> None:
        self.allowed = allowed
        self.paths = paths

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if path is not None or fullname not in self.allowed.modules:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, self.paths)

    def find_distributions(
        self, context: DistributionFinder.Context = _ANY
    ) -> Iterator[Distribution]:
        if context.name is not None and canonical(context.name) not in self.allowed.dists:
            return iter(())
        where = DistributionFinder.Context(name=context.name, path=self.paths)
        found = importlib.metadata.MetadataPathFinder.find_distributions(where)
        return (d for d in found if canonical(d.metadata["Name"] or "") in self.allowed.dists)


def canonical(name: str) -> str:
    """PEP 503's normal form of a distribution name. Not ``packaging``'s: this side runs in
    the function's process, which must not import (and so offer) ``packaging``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_stdlib(entry: str) -> bool:
    """A ``sys.path`` entry of the interpreter's own library (not a site-packages)."""
    return entry.startswith(sys.base_prefix) and "-packages" not in entry


def restrict(first: list[str], allowed: dict[str, Any]) -> None:
    """The function's code and its layers (``first``), then the standard library; the rest
    only by name."""
    host = [p for p in sys.path if p and not is_stdlib(p) and p not in first]
    sys.path[:] = [*first, *(p for p in sys.path if p and is_stdlib(p) and p not in first)]
    names = Importable(frozenset(allowed["modules"]), frozenset(allowed["dists"]))
    sys.meta_path.append(RuntimePackages(names, host))
    # sys.path_importer_cache is kept: the finders of the directories left are warm (cold
    # starts stay as fast), and those of the host's are consulted by RuntimePackages only.


# -- the server's side: what a code directory may import ---------------------------------------
def importable(code_dir: Path, layer_dirs: Iterable[Path] = ()) -> dict[str, list[str]]:
    """For a function in ``code_dir``: the runtime's packages, keepwarm's, and what its
    ``requirements.txt`` would install, and each layer's ``python/requirements.txt`` (where
    a built Python layer keeps what ``sam build`` installed into it); as the launch options
    carry it to ``restrict``."""
    files = [
        code_dir / "requirements.txt",
        *(d / "python" / "requirements.txt" for d in layer_dirs),
    ]
    return _as_options(tuple((f, _stamp(f)) for f in files))


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


@functools.lru_cache(maxsize=256)
def _as_options(requirements: tuple[tuple[Path, int], ...]) -> dict[str, list[str]]:
    found = _importable(requirements)
    return {"modules": sorted(found.modules), "dists": sorted(found.dists)}


def _importable(requirements: tuple[tuple[Path, int], ...]) -> Importable:
    modules = _modules_by_distribution()
    given = RUNTIME_PACKAGES | KEEPWARM_PACKAGES
    dists = {d for d, names in modules.items() if given & set(names)}
    seen: set[Path] = set()
    listed = [
        r for path, stamp in requirements if stamp >= 0 for r in _read_requirements(path, seen)
    ]
    dists |= _closure(listed)
    return Importable(given | {m for d in dists for m in modules.get(d, ())}, frozenset(dists))


def _logical_lines(text: str) -> Iterator[str]:
    """pip's lines: comments (``#`` after whitespace) dropped, ``\\`` continuations joined."""
    pending = ""
    for raw in text.splitlines():
        line = _COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield (pending + line).strip()
        pending = ""
    if pending.strip():
        yield pending.strip()


def _read_requirements(path: Path, seen: set[Path]) -> list[Any]:
    """Requirements as far as names go: includes (``-r f``, ``-rf``, ``--requirement=f``)
    followed, per-line options (``--hash``) dropped, other options and URLs without a name
    skipped."""
    from packaging.requirements import InvalidRequirement, Requirement

    if path in seen or not path.is_file():
        return []
    seen.add(path)
    found: list[Any] = []
    for line in _logical_lines(path.read_text(errors="replace")):
        include = _INCLUDE.fullmatch(line)
        if include is not None:
            found += _read_requirements(path.parent / include[1], seen)
        elif line and not line.startswith("-"):
            try:
                found.append(Requirement(_OPTION.split(line, maxsplit=1)[0]))
            except InvalidRequirement:
                continue
    return found


def _closure(requirements: Iterable[Any]) -> set[str]:
    """The distributions pip would install for these: each with its dependencies, those of
    every extra asked for anywhere included, as far as the server's environment knows them."""
    from packaging.requirements import Requirement

    extras_of: dict[str, frozenset[str]] = {}
    todo = [(r.name, frozenset(r.extras)) for r in requirements if _applies(r, frozenset())]
    while todo:
        name, extras = todo.pop()
        key, known = canonical(name), extras_of.get(canonical(name))
        if known is not None and extras <= known:
            continue
        extras_of[key] = extras = extras | (known or frozenset())
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for spec in requires:
            requirement = Requirement(spec)
            if _applies(requirement, extras):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return set(extras_of)


def _applies(requirement: Any, extras: frozenset[str]) -> bool:
    marker = requirement.marker
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in (extras or {""}))


@functools.cache
def _modules_by_distribution() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            out.setdefault(canonical(dist), []).append(module)
    return {dist: tuple(modules) for dist, modules in out.items()}
