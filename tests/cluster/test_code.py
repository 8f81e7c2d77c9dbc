"""Code packages: what a node unpacks is the directory, modes and symlinks included."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from keepwarm.cluster import code


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (root / "pkg" / "mod.py").write_text("X = 2\n")
    (root / "bootstrap").write_text("#!/bin/sh\necho hi\n")
    (root / "bootstrap").chmod(0o755)
    (root / "link.py").symlink_to("app.py")
    (root / "pkgalias").symlink_to("pkg")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    return root


def test_unpacked_code_has_the_files_modes_and_symlinks(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    out = tmp_path / "node" / "abc"
    code.unpack(code.pack(src), out)
    assert (out / "app.py").read_text() == (src / "app.py").read_text()
    assert (out / "pkg" / "mod.py").read_text() == "X = 2\n"
    assert stat.S_IMODE((out / "bootstrap").stat().st_mode) == 0o755
    assert os.readlink(out / "link.py") == "app.py"
    assert os.readlink(out / "pkgalias") == "pkg"
    assert (out / "pkgalias" / "mod.py").read_text() == "X = 2\n"
    assert not (out / "__pycache__").exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # environments run as another user
    assert [p.name for p in out.parent.iterdir()] == ["abc"]  # no partial directory left


def test_the_fingerprint_follows_edits_and_the_package_is_reproducible(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    first, packed = code.fingerprint(src), code.pack(src)
    assert code.fingerprint(src) == first and code.pack(src) == packed
    (src / "pkg" / "mod.py").write_text("X = 3\n")
    assert code.fingerprint(src) != first
    (src / "__pycache__" / "other.pyc").write_bytes(b"y")  # skipped: no new package
    second = code.fingerprint(src)
    (src / "__pycache__" / "more.pyc").write_bytes(b"z")
    assert code.fingerprint(src) == second


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py"])
def test_a_package_cannot_write_outside_its_directory(tmp_path: Path, name: str) -> None:
    data = tmp_path / "bad.zip"
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr(name, "x")
    with pytest.raises(ValueError, match="unsafe path"):
        code.unpack(data.read_bytes(), tmp_path / "node" / "bad")
    assert not (tmp_path / "evil.py").exists()
    assert list((tmp_path / "node").iterdir()) == []  # nothing half-unpacked left
