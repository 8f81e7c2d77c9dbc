"""A Python function imports its own code, the standard library and what Lambda's Python
runtimes ship (boto3 and its dependencies), not the server's virtualenv (env.packages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepwarm import Runtime, ServerConfig
from tests.helpers import function

PROBE = """
import importlib

def handler(event, context):
    found = {}
    for name in event["names"]:
        try:
            importlib.import_module(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return found
"""
ALLOWED = [
    "json", "sqlite3", "boto3", "botocore.session", "dateutil", "keepwarm.orc", "helper",
    "snapshot_restore_py",
]  # fmt: skip
HOST_ONLY = ["yaml", "pytest", "starlette", "tests", "bench", "hypothesis", "packaging"]


@pytest.mark.parametrize("snapshot", [False, True])
def test_only_lambda_s_packages_are_importable(tmp_path: Path, snapshot: bool) -> None:
    fn = function(tmp_path, "probe", PROBE, snapshot=snapshot)
    (fn.code_dir / "helper.py").write_text("X = 1\n")
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        found = rt.invoke("probe", {"names": ALLOWED + HOST_ONLY}).json()
    assert found == {name: name in ALLOWED for name in ALLOWED + HOST_ONLY}


def test_an_unpackaged_import_at_init_is_an_import_module_error(tmp_path: Path) -> None:
    fn = function(tmp_path, "needs", "import yaml\n\ndef handler(e, c):\n    return 1\n")
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        result = rt.invoke("needs")
    assert json.loads(result.payload) == {
        "errorMessage": "Unable to import module 'app': No module named 'yaml'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


def test_requirements_txt_adds_its_packages_and_their_dependencies(tmp_path: Path) -> None:
    fn = function(tmp_path, "probe", PROBE)
    (fn.code_dir / "requirements.txt").write_text(
        "# what sam build would install\nPyYAML>=6  # yaml\n-r more.txt\n--index-url x\n"
    )
    (fn.code_dir / "more.txt").write_text("starlette\n")
    names = ["yaml", "starlette", "anyio", "pytest"]  # anyio: a dependency of starlette
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        found = rt.invoke("probe", {"names": names}).json()
    assert found == {"yaml": True, "starlette": True, "anyio": True, "pytest": False}


METADATA = """
import importlib.metadata

def handler(event, context):
    found = {}
    for name in event["names"]:
        try:
            found[name] = bool(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            found[name] = False
    return found
"""


def test_package_metadata_is_there_for_what_is_importable(tmp_path: Path) -> None:
    fn = function(tmp_path, "meta", METADATA)
    (fn.code_dir / "requirements.txt").write_text("PyYAML\n")
    names = ["boto3", "botocore", "PyYAML", "pytest", "starlette"]
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        found = rt.invoke("meta", {"names": names}).json()
    assert found == {"boto3": True, "botocore": True, "PyYAML": True, "pytest": False,
                     "starlette": False}  # fmt: skip


@pytest.mark.parametrize(
    ("files", "importable", "not_importable"),
    [
        (  # pip-compile --generate-hashes: continuations and per-line options
            {
                "requirements.txt": "pyyaml==6.* \\\n    --hash=sha256:00\n"
                "starlette --hash=sha256:1\n"
            },
            ["yaml", "starlette"],
            ["pytest"],
        ),
        (  # pip's other include spellings, a comment after a tab
            {
                "requirements.txt": "-rone.txt\n--requirement=two.txt\nclick\t# the CLI\n",
                "one.txt": "pyyaml\n",
                "two.txt": "starlette\n",
            },
            ["yaml", "starlette", "click"],
            ["pytest"],
        ),
        (  # an extra asked for anywhere counts, even when the name also comes without it
            {"requirements.txt": "httpx[cli]\n-r base.txt\n", "base.txt": "httpx\n"},
            ["httpx", "rich", "click", "pygments"],
            ["pytest"],
        ),
    ],
)
def test_requirements_files_are_read_as_pip_reads_them(
    tmp_path: Path, files: dict[str, str], importable: list[str], not_importable: list[str]
) -> None:
    fn = function(tmp_path, "probe", PROBE)
    for name, text in files.items():
        (fn.code_dir / name).write_text(text)
    names = importable + not_importable
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        found = rt.invoke("probe", {"names": names}).json()
    assert found == {name: name in importable for name in names}


def test_host_packages_opts_back_in(tmp_path: Path) -> None:
    fn = function(tmp_path, "probe", PROBE)
    server = ServerConfig(data_dir=tmp_path / "data", host_packages=True)
    with Runtime([fn], server=server) as rt:
        assert rt.invoke("probe", {"names": ["yaml", "pytest"]}).json() == {
            "yaml": True,
            "pytest": True,
        }
