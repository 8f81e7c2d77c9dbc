"""Deployment packages: unpacked safely into the data dir, addressed by their SHA-256.

Why so careful: a zip is untrusted input. Entries that escape the target (``../``, absolute
paths), symlinks (which could point anywhere once mounted at /var/task) and zip bombs (headers
that lie about sizes) are all rejected before anything becomes visible to a function.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from keepwarm.errors import InvalidParameterValue, ResourceConflict

UNZIPPED_LIMIT = 262_144_000
log = logging.getLogger("keepwarm.registry")
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 16


def sha256_b64(data: bytes) -> str:
    """CodeSha256 as Lambda reports it: base64 of the raw digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def hex_digest(code_sha256: str) -> str:
    """A CodeSha256 in hex: how packages are named on disk and in download URLs."""
    return base64.b64decode(code_sha256).hex()


def _walk(root: Path | str, skip: Path | None) -> Iterator[tuple[str, list[str], list[str]]]:
    """Directories below ``root`` with their subdirectories and files, sorted, leaving out
    ``skip`` (the server's data dir, when a template's code directory holds it: its databases
    and logs are not code). Links to directories are listed, never entered."""
    skipped = os.path.realpath(skip) if skip is not None else None
    if skipped is not None and not skipped.startswith(os.path.realpath(root) + os.sep):
        skipped = None  # not inside: no directory needs resolving
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if skipped is not None:
            dirnames[:] = [
                d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) != skipped
            ]
        yield dirpath, dirnames, sorted(filenames)


def zip_directory(src: Path, skip: Path | None = None) -> bytes:
    """A template function's code directory as a package, as SAM would upload it: the files
    relative to the directory (as at /var/task). Built in memory for one download, so nothing
    is left on disk if the client goes away."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for dirpath, _dirs, filenames in _walk(src, skip):
            for file in filenames:
                full = Path(dirpath, file)
                if full.is_file():
                    out.write(full, full.relative_to(src).as_posix())
    return buf.getvalue()


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The safe relative path of an entry, or None if the entry must be rejected."""
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("/") or ":" in path.parts[0:1]:
        return None
    return path


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _link_inside(rel: PurePosixPath, target: str) -> bool:
    """A link's target stays inside the package: relative, and not above its root once
    resolved from the link's own directory (``node_modules/.bin/tool -> ../tool/cli.js``)."""
    if not target or target.startswith("/") or "\x00" in target:
        return False
    depth = len(rel.parts) - 1
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return False
    return True


def _copy_capped(src: io.BufferedIOBase, dst: io.BufferedWriter, budget: int) -> int:
    written = 0
    while chunk := src.read(_CHUNK):
        written += len(chunk)
        if written > budget:
            raise InvalidParameterValue(
                f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"
            )
        dst.write(chunk)
    return written


def _extract(archive: zipfile.ZipFile, target: Path) -> None:
    """Files first, links last (so no file is written through a link), each link pointing
    inside the package: zips made with ``zip -y`` (``node_modules/.bin``, versioned ``.so``
    names) keep them, as on Lambda; a link out of the package refuses it."""
    infos = archive.infolist()
    if sum(i.file_size for i in infos) > UNZIPPED_LIMIT:
        raise InvalidParameterValue(f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes")
    budget = UNZIPPED_LIMIT
    links: list[tuple[PurePosixPath, str]] = []
    for info in infos:
        rel = _member_path(info)
        if rel is None:
            raise InvalidParameterValue(BAD_ZIP)
        if _is_link(info):
            links.append((rel, _zipped_link(archive, info, rel)))
            continue
        dest = target.joinpath(*rel.parts)
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as src, open(dest, "wb") as out:
            budget -= _copy_capped(src, out, budget)  # type: ignore[arg-type]
        mode = (info.external_attr >> 16) & 0o777
        os.chmod(dest, 0o755 if mode & 0o111 else 0o644)
    for rel, link in links:
        dest = target.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, dest)


def _zipped_link(archive: zipfile.ZipFile, info: zipfile.ZipInfo, rel: PurePosixPath) -> str:
    if info.file_size > 4096:
        raise InvalidParameterValue(BAD_ZIP)
    link = archive.read(info).decode("utf-8", "replace")
    if not _link_inside(rel, link):
        log.warning("keepwarm: package refused: its link %s -> %s points outside it", rel, link)
        raise InvalidParameterValue(BAD_ZIP)
    return link


def unpack(zip_bytes: bytes, root: Path) -> Path:
    """Unpack into ``root/<sha256 hex>`` (once; the same package reuses the same directory)."""
    digest = hashlib.sha256(zip_bytes).hexdigest()
    final = root / digest
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        try:
            with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
                _extract(archive, staging)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
            raise InvalidParameterValue(BAD_ZIP) from exc
        os.chmod(staging, 0o755)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def store_zip(path: Path, data: bytes) -> None:
    """Keep the package for GetFunction's download: whole or not at all.

    Written under another name and renamed, so a write cut short (a full disk, a kill) never
    leaves a truncated file under the real name for a later, successful upload to trust.
    """
    if path.is_file() and path.stat().st_size == len(data):
        return
    fd, tmp = tempfile.mkstemp(prefix=".zip-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def layers_digest(dirs: Iterable[Path | str], skip: Path | None = None) -> str:
    """One digest of the content of a function's layers (``directory_digest`` of each, in
    order): a template's layer directory changes in place, where on Lambda new content is a
    new layer version, and so a new version of the functions using it."""
    parts = [directory_digest(Path(d), skip)[0] for d in dirs]
    return sha256_b64("\n".join(parts).encode()) if parts else ""


def directory_digest(path: Path, skip: Path | None = None) -> tuple[str, int]:
    """A stand-in CodeSha256 and CodeSize for a template's code directory (no zip exists).

    Hashes names, sizes, mtimes and ctimes rather than contents: cheap on big trees, and it
    still changes whenever a file does. The ctime counts because an mtime can be put back
    (``cp -p``, ``touch -r``, archives with fixed times) while the content or mode changed; no
    user can set a ctime. Only regular files (or links to them) count, as only they are code
    (see ``_copy_tree``): a FIFO in the directory must not make every publish look new.
    """
    digest = hashlib.sha256()
    size = 0
    for dirpath, _dirs, filenames in _walk(path, skip):
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            size += st.st_size
            rel = os.path.relpath(full, path)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return base64.b64encode(digest.digest()).decode(), size


SNAPSHOT_PREFIX = "snapshot-"
_SNAPSHOT_TRIES = 3


def snapshot(
    src: Path, root: Path, skip: Path | None = None, known: tuple[str, int] | None = None
) -> tuple[Path, str, int]:
    """A copy of the code directory ``src`` that later edits to it never reach, with its
    CodeSha256 and CodeSize: ``root/snapshot-<digest hex>``, so equal code is kept once.

    Copied (never hard-linked: an editor that rewrites a file in place would change both),
    under a temporary name renamed when whole, so a copy cut short is never taken for one.
    The digest is the directory's, read before and after the copy: if the two differ, the
    directory changed meanwhile and the copy is taken again. ``known``: a digest the caller
    has just read, taken as the first "before" to spare a walk of the tree; only a digest read
    here lets an existing copy stand in without copying (and so without the check).
    """
    digest, trusted = (known, False) if known else (directory_digest(src, skip), True)
    for _ in range(_SNAPSHOT_TRIES):
        final = root / f"{SNAPSHOT_PREFIX}{hex_digest(digest[0])}"
        if (trusted and final.is_dir()) or _copy_into(src, root, final, skip, digest):
            return final, *digest
        digest, trusted = directory_digest(src, skip), True
    raise ResourceConflict(
        f"The code directory {src} kept changing while it was copied for the new version. "
        "Please try again."
    )


def _copy_into(
    src: Path, root: Path, final: Path, skip: Path | None, digest: tuple[str, int]
) -> bool:
    """Copy ``src`` to ``final``; False (and nothing left) if it changed during the copy."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SNAPSHOT_PREFIX}", dir=root))
    try:
        _copy_tree(src, staging, skip)
        if directory_digest(src, skip) != digest:
            shutil.rmtree(staging)
            return False
        if final.is_dir():
            shutil.rmtree(staging)
        else:
            os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def _copy_tree(src: Path, dst: Path, skip: Path | None) -> None:
    """Regular files by content (a link to a file too), links to directories as links, and
    nothing else (sockets, pipes, broken links are not code). Directory modes are copied last:
    a read-only directory of the code must still be filled."""
    dirs: list[tuple[str, Path]] = [(str(src), dst)]
    for dirpath, dirnames, filenames in _walk(src, skip):
        here = dst / os.path.relpath(dirpath, src)
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                os.symlink(_link_target(full, src), here / name)
            else:
                (here / name).mkdir()
                dirs.append((full, here / name))
        for name in filenames:
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                shutil.copy2(full, here / name)
                drop_set_id(here / name)
    for original, copy in reversed(dirs):
        shutil.copystat(original, copy)


def drop_set_id(path: Path) -> None:
    """No setuid/setgid bit survives into a copy: the server (often root) owns the copy, so a
    user's setuid file would become a setuid-root one (as in a zip, only plain modes count)."""
    mode = path.stat().st_mode
    if mode & (stat.S_ISUID | stat.S_ISGID):
        path.chmod(stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))


def _link_target(link: str, root: Path) -> str:
    """A relative link that stays inside the code keeps pointing inside the copy; any other
    reaches the same directory the original does."""
    target = os.readlink(link)
    resolved = os.path.realpath(link)
    if not os.path.isabs(target) and resolved.startswith(os.path.realpath(root) + os.sep):
        return target
    return resolved
