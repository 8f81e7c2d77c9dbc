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
ALLOWED = ["json", "sqlite3", "boto3", "botocore.session", "dateutil", "keepwarm.orc", "helper"]
HOST_ONLY = ["yaml", "pytest", "starlette", "tests", "bench", "hypothesis"]


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


def test_host_packages_opts_back_in(tmp_path: Path) -> None:
    fn = function(tmp_path, "probe", PROBE)
    server = ServerConfig(data_dir=tmp_path / "data", host_packages=True)
    with Runtime([fn], server=server) as rt:
        assert rt.invoke("probe", {"names": ["yaml", "pytest"]}).json() == {
            "yaml": True,
            "pytest": True,
        }
