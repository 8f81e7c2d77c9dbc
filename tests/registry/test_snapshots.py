"""A published version of a template function runs the code it was published with: its code
directory is copied into the data dir (keepwarm.registry.snapshots), whatever happens to the
directory afterwards, across --watch reloads and restarts, until the version is deleted."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import textwrap
import threading
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from keepwarm.registry import code
from tests.lambda_api.kw_server import Server, wait_for

TEMPLATE = """
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: hello
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Environment:
        Variables:
          SIDE: {side}
"""
# TAG is read at import (Init), answer.txt at each invocation: a warm environment of an old
# version would still show the old TAG, never the old file.
CODE = """
import os, time
TAG = "{tag}"
def handler(event, context):
    if event.get("wait"):
        side = os.environ["SIDE"]
        open(os.path.join(side, "started"), "w").close()
        while not os.path.exists(os.path.join(side, "go")):
            time.sleep(0.01)
        import late
        return {{"late": late.VALUE}}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "answer.txt")) as fh:
        answer = fh.read()
    return {{"tag": TAG, "answer": answer, "version": context.function_version}}
"""


def _project(root: Path, side: Path | str = "/nowhere", extra: str = "") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE.format(side=side)) + extra)
    _edit(root, "v1", "one")
    return root / "template.yaml"


def _edit(root: Path, tag: str, answer: str) -> None:
    (root / "src" / "app.py").write_text(CODE.format(tag=tag))
    (root / "src" / "answer.txt").write_text(answer)
    (root / "src" / "late.py").write_text(f"VALUE = {tag!r}\n")


def _call(lam: Any, qualifier: str = "$LATEST", **event: Any) -> dict[str, Any]:
    out = lam.invoke(FunctionName="hello", Qualifier=qualifier, Payload=json.dumps(event))
    assert "FunctionError" not in out, out["Payload"].read()
    result: dict[str, Any] = json.loads(out["Payload"].read())
    return result


def _snapshots(data: Path) -> list[Path]:
    return sorted((data / "code" / "hello").glob(f"{code.SNAPSHOT_PREFIX}*"))


def _downloaded(lam: Any, qualifier: str) -> dict[str, bytes]:
    location = lam.get_function(FunctionName="hello", Qualifier=qualifier)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as resp:
        package = zipfile.ZipFile(io.BytesIO(resp.read()))
    return {name: package.read(name) for name in package.namelist()}


def test_a_version_keeps_its_code_through_edits_reloads_and_restarts(
    start_server: Any, tmp_path: Path
) -> None:
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root)
    first: Server = start_server("-t", str(template), "--watch", data_dir=data)
    lam = first.client()
    published = lam.publish_version(FunctionName="hello")
    assert published["Version"] == "1"
    sha = published["CodeSha256"]
    assert sha == lam.get_function(FunctionName="hello")["Configuration"]["CodeSha256"]
    [snapshot] = _snapshots(data)
    assert snapshot.name == code.SNAPSHOT_PREFIX + base64.b64decode(sha).hex()
    assert _call(lam, "1") == {"tag": "v1", "answer": "one", "version": "1"}
    assert _call(lam)["tag"] == "v1"  # $LATEST warm on v1 too: only a reload changes it

    _edit(root, "v2", "two")
    wait_for(lambda: _call(lam)["tag"] == "v2", timeout=30)  # the --watch reload
    assert _call(lam) == {"tag": "v2", "answer": "two", "version": "$LATEST"}
    assert _call(lam, "1") == {"tag": "v1", "answer": "one", "version": "1"}
    version = lam.get_function(FunctionName="hello", Qualifier="1")["Configuration"]
    assert version["CodeSha256"] == sha
    assert lam.get_function(FunctionName="hello")["Configuration"]["CodeSha256"] != sha
    assert _downloaded(lam, "1")["answer.txt"] == b"one"
    first.stop()

    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    assert _call(lam, "1") == {"tag": "v1", "answer": "one", "version": "1"}  # a cold start
    assert _call(lam) == {"tag": "v2", "answer": "two", "version": "$LATEST"}
    versions = lam.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [(v["Version"], v["CodeSha256"] == sha) for v in versions] == [
        ("$LATEST", False),
        ("1", True),
    ]
    lam.delete_function(FunctionName="hello", Qualifier="1")
    assert _snapshots(data) == []


def test_publishing_compares_the_directory_as_it_is_now(start_server: Any, tmp_path: Path) -> None:
    """Without --watch, $LATEST's CodeSha256 dated from the start: an edited directory
    published as no new version, and its stale CodeSha256 passed the guard."""
    root = tmp_path / "proj"
    srv: Server = start_server("-t", str(_project(root)))
    lam = srv.client()
    stale = lam.get_function(FunctionName="hello")["Configuration"]["CodeSha256"]
    assert lam.publish_version(FunctionName="hello")["Version"] == "1"
    assert lam.publish_version(FunctionName="hello")["Version"] == "1"  # nothing changed
    _edit(root, "v2", "two!")
    try:
        lam.publish_version(FunctionName="hello", CodeSha256=stale)
        raise AssertionError("published over a stale CodeSha256")
    except lam.exceptions.InvalidParameterValueException as exc:
        assert "is different from current CodeSHA256 in $LATEST" in str(exc)
    second = lam.publish_version(FunctionName="hello")
    assert second["Version"] == "2" and second["CodeSha256"] != stale
    assert (
        lam.get_function(FunctionName="hello")["Configuration"]["CodeSha256"]
        == (second["CodeSha256"])
    )
    assert _call(lam, "1")["answer"] == "one" and _call(lam, "2")["answer"] == "two!"


def test_a_deleted_version_s_code_stays_until_its_last_invocation_ends(
    start_server: Any, tmp_path: Path, side_dir: Path
) -> None:
    data = tmp_path / "data"
    root = tmp_path / "proj"
    srv: Server = start_server("-t", str(_project(root, side_dir)), data_dir=data)
    lam = srv.client()
    lam.publish_version(FunctionName="hello")
    _edit(root, "v2", "two")
    results: list[dict[str, Any]] = []
    running = threading.Thread(target=lambda: results.append(_call(lam, "1", wait=True)))
    running.start()
    try:
        wait_for(lambda: (side_dir / "started").exists(), timeout=60)
        lam.delete_function(FunctionName="hello", Qualifier="1")
        assert len(_snapshots(data)) == 1  # still imported from: the invocation runs on
    finally:
        (side_dir / "go").touch()
        running.join(timeout=60)
    assert results == [{"late": "v1"}]
    wait_for(lambda: _snapshots(data) == [], timeout=30)


def test_auto_publish_alias_publishes_a_new_version_only_for_new_code(
    start_server: Any, tmp_path: Path
) -> None:
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root, extra="      AutoPublishAlias: live\n")
    start_server("-t", str(template), data_dir=data).stop()
    again: Server = start_server("-t", str(template), data_dir=data)
    lam = again.client()
    versions = lam.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]  # the same code: no new one
    again.stop()
    _edit(root, "v2", "two")
    third: Server = start_server("-t", str(template), data_dir=data)
    lam = third.client()
    assert lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "2"
    assert _call(lam, "live") == {"tag": "v2", "answer": "two", "version": "2"}
    assert _call(lam, "1") == {"tag": "v1", "answer": "one", "version": "1"}
    assert len(_snapshots(data)) == 2


def test_under_watch_auto_publish_alias_moves_to_a_new_version_and_the_old_one_stays(
    start_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    template = _project(root, extra="      AutoPublishAlias: live\n")
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    assert _call(lam, "live") == {"tag": "v1", "answer": "one", "version": "1"}
    _edit(root, "v2", "two")
    wait_for(lambda: _call(lam, "live")["version"] == "2", timeout=30)
    assert _call(lam, "live") == {"tag": "v2", "answer": "two", "version": "2"}
    assert _call(lam, "1") == {"tag": "v1", "answer": "one", "version": "1"}


def test_a_version_whose_snapshot_was_removed_by_hand_is_dropped_at_start(
    start_server: Any, tmp_path: Path
) -> None:
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root, extra="      AutoPublishAlias: live\n")
    first: Server = start_server("-t", str(template), data_dir=data)
    first.client().publish_version(FunctionName="hello")
    first.stop()
    for snapshot in _snapshots(data):
        shutil.rmtree(snapshot)
    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    assert "versions 1 dropped: their code is gone" in second.stderr()
    versions = lam.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]  # numbers are never reused
    assert _call(lam, "live") == {"tag": "v1", "answer": "one", "version": "2"}


def test_a_snapshot_is_a_copy_without_the_data_dir(tmp_path: Path) -> None:
    src, outside = tmp_path / "src", tmp_path / "outside"
    (src / "pkg" / "sub").mkdir(parents=True)
    outside.mkdir()
    (src / "app.py").write_text("A = 1\n")
    (src / "pkg" / "sub" / "m.py").write_text("B = 2\n")
    os.chmod(src / "app.py", 0o750)
    (outside / "shared.py").write_text("C = 3\n")
    os.symlink(outside / "shared.py", src / "shared.py")  # a link to a file: its content
    os.symlink("pkg/sub", src / "sub")  # a link to a directory inside: kept, relative
    os.mkfifo(src / "pipe")  # not code
    data = src / ".keepwarm"
    (data / "code").mkdir(parents=True)
    (data / "registry.db").write_text("not code")
    os.chmod(src / "pkg", 0o555)  # a read-only directory is still copied into

    try:
        folder, sha, size = code.snapshot(src, data / "code" / "fn", data)
    finally:
        os.chmod(src / "pkg", 0o755)
    assert sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir() or p.is_symlink()
    ) == ["app.py", "pkg/sub/m.py", "shared.py", "sub"]
    assert (
        not (folder / "shared.py").is_symlink() and (folder / "shared.py").read_text() == "C = 3\n"
    )
    assert os.readlink(folder / "sub") == "pkg/sub" and (folder / "sub" / "m.py").is_file()
    assert (folder / "app.py").stat().st_mode & 0o777 == 0o750
    assert (folder / "pkg").stat().st_mode & 0o777 == 0o555
    assert (sha, size) == code.directory_digest(src, data)  # the directory's, as published
    os.chmod(folder / "pkg", 0o755)

    (src / "app.py").write_text("A = 2\n")
    assert (folder / "app.py").read_text() == "A = 1\n"  # a copy, never a link
    again, again_sha, _ = code.snapshot(src, data / "code" / "fn", data)
    assert again != folder and again_sha != sha
    assert sorted(p.name for p in (data / "code" / "fn").iterdir()) == sorted(
        [folder.name, again.name]
    )  # no half-written copy left behind


def test_the_digest_sees_content_put_back_under_its_old_mtime_and_ignores_fifos(
    tmp_path: Path,
) -> None:
    """Found by black-box testing: ``cp -p``/``touch -r`` put an mtime back over new content,
    and publishing returned the old version (the digest hashed names, sizes and mtimes); a
    FIFO counted for $LATEST but not for the copy, so every publish made a new version."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "v.txt").write_text("v1\n")
    before = code.directory_digest(src)
    stamp = (src / "v.txt").stat()
    (src / "v.txt").write_text("v2\n")  # same size
    os.utime(src / "v.txt", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert code.directory_digest(src) != before
    edited = code.directory_digest(src)
    os.mkfifo(src / "pipe")
    assert code.directory_digest(src) == edited


def test_a_copy_drops_setuid_and_setgid_bits(tmp_path: Path) -> None:
    """The server (root) owns the copy: a user's setuid file became a setuid-root one."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "tool").write_bytes(b"#!/bin/sh\n")
    (src / "tool").chmod(0o6755)
    folder, _sha, _size = code.snapshot(src, tmp_path / "copies")
    assert (folder / "tool").stat().st_mode & 0o7777 == 0o755
