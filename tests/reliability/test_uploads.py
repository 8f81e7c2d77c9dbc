"""Hostile deployment packages through the real API (boto3 → ``keepwarm serve``): AWS's words, and
nothing written anywhere but the function's own directory.

Zip-slip (``../``, absolute paths), symlinks, zip bombs (honest and lying headers), corrupt and
empty archives. Each must get ``InvalidParameterValueException`` with Lambda's message; after
all of them the data dir holds no code directory and no half-unpacked staging directory, and
not one file appeared where the entries pointed.
"""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
TOO_BIG = "Unzipped size must be smaller than 262144000 bytes"
ROLE = "arn:aws:iam::123456789012:role/keepwarm-test"
NO_SOURCE = "Please provide a source for function code."
MB = 1024 * 1024


def _zip(build: Callable[[zipfile.ZipFile], None]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        build(zf)
    return buf.getvalue()


def _entry(name: str, data: bytes = b"pwned", mode: int | None = None) -> Any:
    def build(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)

    return build


def _zeros(name: str, size: int) -> Callable[[zipfile.ZipFile], None]:
    def build(zf: zipfile.ZipFile) -> None:
        chunk = bytes(MB)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED  # a bomb: tiny packed, huge unpacked
        with zf.open(info, "w", force_zip64=True) as out:
            for _ in range(size // MB):
                out.write(chunk)

    return build


def _lying_bomb() -> bytes:
    """300 MB of zeros whose headers claim 1,000 bytes (only a streaming cap or CRC check
    catches it; summing the headers does not)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        info = zipfile.ZipInfo("bomb.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as out:
            for _ in range(300):
                out.write(bytes(MB))
    data = bytearray(buf.getvalue())
    central = data.rfind(b"PK\x01\x02")  # the last central directory record: bomb.bin
    struct.pack_into("<I", data, central + 24, 1000)  # uncompressed size
    local = data.find(b"PK\x03\x04", 1)  # the second local header
    struct.pack_into("<I", data, local + 22, 1000)
    return bytes(data)


def _cases(target: Path) -> list[tuple[str, bytes, str]]:
    escape = f"../../../../../../..{target}/slip-{{}}.txt"
    return [
        ("dotdot", _zip(_entry(escape.format("dotdot"))), BAD_ZIP),
        ("nested-dotdot", _zip(_entry(f"lib/../../x/../..{target}/slip-n.txt")), BAD_ZIP),
        ("absolute", _zip(_entry(f"{target}/slip-abs.txt")), BAD_ZIP),
        ("backslash", _zip(_entry("..\\..\\..\\..\\..\\..\\tmp\\slip-bs.txt")), BAD_ZIP),
        ("symlink-out", _zip(_entry("etc", b"/etc", mode=0o120777)), BAD_ZIP),
        ("symlink-dir", _zip(_entry("lib/up", str(target).encode(), mode=0o120777)), BAD_ZIP),
        ("bomb-honest", _zip(_zeros("zeros.bin", 260 * MB)), TOO_BIG),
        (
            "bomb-many",
            _zip(lambda zf: [_zeros(f"z{i}.bin", 30 * MB)(zf) for i in range(9)]),
            TOO_BIG,
        ),
        ("bomb-lying", _lying_bomb(), BAD_ZIP),
        ("corrupt", _zip(lambda zf: None)[:-30] + b"\x00" * 30, BAD_ZIP),
        ("not-a-zip", b"this is not a zip file at all", BAD_ZIP),
        ("empty", b"", BAD_ZIP),
    ]


@pytest.mark.timeout(300)
def test_hostile_packages_get_aws_errors_and_write_nothing_outside(
    start_server: Any, side_dir: Path
) -> None:
    srv = start_server()
    lam = srv.client()
    outcomes: dict[str, tuple[str, str]] = {}
    for name, package, _ in _cases(side_dir):
        fn = f"hostile-{name}-{uuid.uuid4().hex[:6]}"
        for call in ("create", "update"):
            try:
                if call == "create":
                    lam.create_function(
                        FunctionName=fn,
                        Runtime="python3.12",
                        Role=ROLE,
                        Handler="app.handler",
                        Code={"ZipFile": package},
                    )
                else:
                    lam.update_function_code(FunctionName="victim", ZipFile=package)
            except ClientError as exc:
                err = exc.response["Error"]
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                outcomes[f"{name}/{call}"] = (f"{status} {err['Code']}", err["Message"])
            else:
                outcomes[f"{name}/{call}"] = ("accepted", "")
            functions = lam.list_functions()["Functions"]
            if call == "create" and "victim" not in {f["FunctionName"] for f in functions}:
                lam.create_function(
                    FunctionName="victim",
                    Runtime="python3.12",
                    Role=ROLE,
                    Handler="app.handler",
                    Code={"ZipFile": _zip(lambda zf: None)},
                )
    expected = {
        f"{name}/{call}": ("400 InvalidParameterValueException", message)
        for name, _, message in _cases(side_dir)
        for call in ("create", "update")
    }
    # An empty ZipFile is no package at all: CreateFunction says so in Lambda's words.
    for call in ("create", "update"):
        expected[f"empty/{call}"] = (expected[f"empty/{call}"][0], NO_SOURCE)
    assert outcomes == expected
    assert sorted(p.name for p in side_dir.iterdir()) == []  # nothing escaped
    assert not list(Path("/tmp").glob("slip-*"))
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == {"victim"}  # no hostile function was created
    assert lam.invoke(FunctionName="victim")["Payload"].read() == b"1"  # its code untouched
    leftovers = [p for p in srv.data_dir.rglob(".unpack-*")]
    assert leftovers == []
    print(f"\nUPLOADS {len(outcomes)} hostile uploads rejected: {sorted(outcomes)}")
