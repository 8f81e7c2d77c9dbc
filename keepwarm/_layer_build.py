"""A template layer's content as ``sam build`` leaves it, without pip or npm.

Why: with ``Metadata: BuildMethod: python3.x`` ``sam build`` copies ContentUri's files under
``python/`` in the built layer (``nodejs/`` for ``nodejs*.x``, where ``npm install`` then adds
``nodejs/node_modules``), so that they land on /opt/python (/opt/nodejs) at run time. keepwarm
makes the same tree under the template's build dir. It installs nothing: a python layer's
``requirements.txt`` is copied along (``python/requirements.txt``), for the environment to
read, and a Node.js layer's ``node_modules`` is taken as the user installed it.

Why one directory per content, named by a digest of the source (names, sizes, times): a copy
is made under a temporary name and renamed when whole, so no reader sees half of one; an
unchanged source is not copied again; and a changed one gets a new directory, so a function
(or a version published with it) keeps the content it started with, as a layer version is
immutable on Lambda, while the next read of the template names the new one.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from keepwarm.errors import TemplateError
from keepwarm.registry.code import drop_set_id

# aws-lambda-builders' PythonPipWorkflow.EXCLUDED_FILES, matched against every name as
# shutil.ignore_patterns matches them; keepwarm's own directory too.
PYTHON_EXCLUDED = (
    ".aws-sam", ".chalice", ".git", ".gitignore", "*.pyc", "__pycache__", "*.so", ".Python",
    "*.egg-info", "*.egg", "pip-log.txt", "pip-delete-this-directory.txt", "htmlcov", ".tox",
    ".nox", ".coverage", ".cache", ".pytest_cache", ".python-version", ".mypy_cache",
    ".dmypy.json", ".pyre", ".env", ".venv", "venv", "venv.bak", "env.bak", "ENV", "env",
    ".vscode", ".idea", ".keepwarm",
)  # fmt: skip
NODE_EXCLUDED = (".aws-sam", ".git", ".keepwarm")
_TRIES = 3
_DIGEST_CHARS = 16


@dataclass(frozen=True)
class Build:
    """Where ``sam build`` puts a layer's files for one BuildMethod, and what it leaves out."""

    subdir: str
    excluded: tuple[str, ...]


def build_for(method: str) -> Build | None:
    """The build keepwarm emulates for a BuildMethod; None for the others (``makefile``,
    Java, Ruby, .NET...), whose content is used as is."""
    if re.fullmatch(r"python3\.\d+", method):
        return Build("python", PYTHON_EXCLUDED)
    if re.fullmatch(r"nodejs\d+\.x", method):
        return Build("nodejs", NODE_EXCLUDED)
    return None


def built_copy(src: Path, root: Path, build: Build, skip: Path) -> Path:
    """``root/<digest>``, holding ``src``'s files under ``build.subdir``; ``skip`` (the build
    dir, when ``src`` holds it) is never copied. Raises ``TemplateError`` when it cannot."""
    try:
        for _ in range(_TRIES):
            files, digest = _listing(src, build, skip)
            final = root / digest
            if final.is_dir() or _copy(src, files, root, final, build, skip, digest):
                return final
    except OSError as exc:
        raise TemplateError(f"cannot copy {src} into {root}: {exc}") from exc
    raise TemplateError(f"{src} kept changing while keepwarm copied it; try again.")


def _listing(src: Path, build: Build, skip: Path) -> tuple[list[str], str]:
    """The relative paths to copy (directories end with ``/``) and the digest naming them."""
    digest = hashlib.sha256(f"{build.subdir}\n".encode())
    found: list[str] = []
    seen = {os.path.realpath(skip)}
    for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # the build dir, or a link back to a directory already walked
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not _excluded(d, build))
        rel_dir = os.path.relpath(dirpath, src)
        if rel_dir != ".":
            found.append(rel_dir + "/")
            digest.update(f"{rel_dir}/\n".encode())
        for name in sorted(filenames):
            if _excluded(name, build):
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue  # a broken link
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            found.append(rel)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return found, digest.hexdigest()[:_DIGEST_CHARS]


def _excluded(name: str, build: Build) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in build.excluded)


def _copy(
    src: Path, files: list[str], root: Path, final: Path, build: Build, skip: Path, digest: str
) -> bool:
    """Copy ``files`` to ``final``; False (and nothing left) if ``src`` changed meanwhile."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        os.chmod(staging, 0o755)
        target = staging / build.subdir
        target.mkdir()
        for rel in files:
            if rel.endswith("/"):
                (target / rel).mkdir(parents=True, exist_ok=True)
                continue
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, target / rel)
            drop_set_id(target / rel)
        if _listing(src, build, skip)[1] != digest:
            shutil.rmtree(staging)
            return False
        try:
            os.replace(staging, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(staging)  # another reader of the template made it first
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True
