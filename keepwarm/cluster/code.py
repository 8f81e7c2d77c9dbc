"""Function code shipped to the nodes: a zip in Ray's object store, unpacked once per node.

Why a fingerprint of names, sizes and times: a local environment imports its code from disk at
each cold start, so an edit shows at the next one; a node must see the same edit, and packing on
every cold start would cost a read of every file. Symlinks and file modes survive (a custom
runtime's ``bootstrap`` must stay executable), as ``zip -y`` keeps them.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import io
import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

SKIPPED = frozenset({"__pycache__", ".keepwarm", ".aws-sam"})
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class CodePackage:
    """A code directory's zip, by digest. The object reference sits in a tuple so that Ray
    passes the reference with each call and a node fetches the bytes only when it lacks them."""

    digest: str
    holder: tuple[Any, ...]

    async def fetch(self) -> bytes:
        return cast(bytes, await self.holder[0])


def _entries(root: Path) -> list[tuple[str, os.stat_result]]:
    found: list[tuple[str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED)
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]:
            path = base / name
            found.append((str(path.relative_to(root)), path.lstat()))
    return found


def fingerprint(root: Path) -> str:
    """Changes whenever a file is added, removed, resized, touched or re-moded."""
    h = hashlib.sha256()
    for rel, st in _entries(root):
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
    return h.hexdigest()


def pack(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for rel, st in _entries(root):
            info = zipfile.ZipInfo(rel, _EPOCH)
            info.external_attr = (st.st_mode & 0xFFFF) << 16
            if stat.S_ISLNK(st.st_mode):
                archive.writestr(info, os.readlink(root / rel))
            elif stat.S_ISREG(st.st_mode):
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (root / rel).read_bytes())
    return buffer.getvalue()


def unpack(data: bytes, target: Path) -> None:
    """Into ``target``, whole or not at all: a sibling directory renamed into place."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, mode=0o755)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                _extract(archive, info, partial)
        os.chmod(partial, 0o755)
        partial.rename(target)
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        # unpacked meanwhile by another call: theirs is as good
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> None:
    path = root / info.filename
    if ".." in Path(info.filename).parts or Path(info.filename).is_absolute():
        raise ValueError(f"unsafe path in a code package: {info.filename}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        os.symlink(archive.read(info), path)
        return
    path.write_bytes(archive.read(info))
    os.chmod(path, stat.S_IMODE(mode) or 0o644)


class CodeStore:
    """A node's unpacked code directories, one per digest, each unpacked once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    async def path(self, package: CodePackage) -> Path:
        target = self.root / package.digest
        lock = self._locks.setdefault(package.digest, asyncio.Lock())
        async with lock:
            if not target.is_dir():
                data = await package.fetch()
                await asyncio.to_thread(unpack, data, target)
        return target
