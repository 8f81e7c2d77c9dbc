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
import sys
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# boto3 and its dependency tree as the python3.x runtimes carry them; awslambdaric lives in
# /var/runtime there.
RUNTIME_PACKAGES = frozenset(
    {"boto3", "botocore", "jmespath", "s3transfer", "dateutil", "six", "urllib3", "awslambdaric"}
)
KEEPWARM_PACKAGES = frozenset({"keepwarm", "redis"})


class RuntimePackages(importlib.abc.MetaPathFinder):
    """Finds only the named top-level packages, in the host directories taken off ``sys.path``
    (their submodules then come through the package's own ``__path__``)."""

    def __init__(self, names: frozenset[str], paths: list[str]) -> None:
        self.names = names
        self.paths = paths

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if path is not None or fullname not in self.names:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, self.paths)


def is_stdlib(entry: str) -> bool:
    """A ``sys.path`` entry of the interpreter's own library (not a site-packages)."""
    return entry.startswith(sys.base_prefix) and "-packages" not in entry


def restrict(task_root: str, names: Iterable[str]) -> None:
    """The function's code first, then the standard library; the rest only by name."""
    host = [p for p in sys.path if p and not is_stdlib(p)]
    sys.path[:] = [task_root, *(p for p in sys.path if p and is_stdlib(p) and p != task_root)]
    sys.meta_path.append(RuntimePackages(frozenset(names), host))
    sys.path_importer_cache.clear()


def importable(code_dir: Path) -> frozenset[str]:
    """The top-level modules a function in ``code_dir`` may take from the server's packages."""
    requirements = code_dir / "requirements.txt"
    try:
        stamp = requirements.stat().st_mtime_ns
    except OSError:
        return RUNTIME_PACKAGES | KEEPWARM_PACKAGES
    return RUNTIME_PACKAGES | KEEPWARM_PACKAGES | _required_modules(requirements, stamp)


@functools.lru_cache(maxsize=256)
def _required_modules(requirements: Path, stamp: int) -> frozenset[str]:
    modules = _modules_by_distribution()
    wanted = _closure(_read_requirements(requirements, set()))
    return frozenset(m for dist in wanted for m in modules.get(dist, ()))


def _read_requirements(path: Path, seen: set[Path]) -> list[Requirement]:
    """pip's requirements file, as far as names go: ``-r`` includes followed, other options,
    URLs without a name and unparseable lines skipped."""
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    found: list[Requirement] = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            found += _read_requirements(path.parent / line.split(None, 1)[1].strip(), seen)
        elif line and not line.startswith(("#", "-")):
            try:
                found.append(Requirement(line))
            except InvalidRequirement:
                continue
    return found


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions pip would install for these: each with its dependencies (the
    requested extras' included), as far as the server's environment knows them."""
    seen: set[str] = set()
    todo = [(r.name, frozenset(r.extras)) for r in requirements if _applies(r, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = canonicalize_name(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for spec in requires:
            requirement = Requirement(spec)
            if _applies(requirement, extras):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    marker = requirement.marker
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in (extras or {""}))


@functools.cache
def _modules_by_distribution() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            out.setdefault(canonicalize_name(dist), []).append(module)
    return {dist: tuple(modules) for dist, modules in out.items()}
