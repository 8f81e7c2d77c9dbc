"""A function's layers reach it as on Lambda (env.layers): merged at /opt, a later layer's
files over an earlier one's, on the search paths Lambda's runtimes use; without a mount
namespace, at their own paths on the same search paths."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig
from tests.helpers import function, write_code

ISOLATION = ["auto", "none"]
PROBE = """
import os, sys

def handler(event, context):
    import shared, only_first, only_second, sitepkg
    return {
        "shared": shared.WHO, "first": only_first.WHO, "second": only_second.WHO,
        "site": sitepkg.WHO, "path": sys.path, "env": dict(os.environ),
        "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else None,
        "from_opt": shared.__file__,
    }
"""


def _layers(root: Path) -> list[Path]:
    """Two layers that both hold ``shared`` (the second must win) and one module each; the
    second also a package in the versioned site-packages directory Lambda adds."""
    first = write_code(
        root / "layer1",
        {"python/shared.py": "WHO = 'first'\n", "python/only_first.py": "WHO = 1\n"},
    )
    second = write_code(
        root / "layer2",
        {
            "python/shared.py": "WHO = 'second'\n",
            "python/only_second.py": "WHO = 2\n",
            "python/lib/python3.12/site-packages/sitepkg/__init__.py": "WHO = 'site'\n",
            "bin/tool": "#!/bin/sh\necho tool\n",
        },
    )
    (second / "bin" / "tool").chmod(0o755)
    return [first, second]


def _open(*dirs: Path) -> None:
    """World-readable, so a function dropped to the sandbox user can read them."""
    for top in dirs:
        for path in [top, *top.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))


def _server(tmp_path: Path, isolation: str) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path / "data", isolation=isolation)


@pytest.mark.parametrize("isolation", ISOLATION)
def test_later_layers_win_and_python_finds_both_layer_directories(
    tmp_path: Path, isolation: str
) -> None:
    layers = _layers(tmp_path)
    fn = function(tmp_path, "probe", PROBE)
    fn = fn.with_changes(layer_dirs=tuple(layers))
    _open(tmp_path)
    with Runtime([fn], server=_server(tmp_path, isolation)) as rt:
        out = rt.invoke("probe").json()
    assert (out["shared"], out["first"], out["second"], out["site"]) == ("second", 1, 2, "site")
    task = out["path"][0]
    if out["env"]["LAMBDA_TASK_ROOT"] == "/var/task":
        assert out["path"][:3] == [
            "/var/task",
            "/opt/python/lib/python3.12/site-packages",
            "/opt/python",
        ]
        assert out["opt"] == ["bin", "python"]
        assert out["from_opt"] == "/opt/python/shared.py"
        assert out["env"]["PATH"].endswith(":/opt/bin")
        assert out["env"]["LD_LIBRARY_PATH"].endswith(":/opt/lib")
    else:
        second, first = (str(p.resolve()) for p in reversed(layers))
        assert out["path"][:5] == [
            task,
            f"{second}/python/lib/python3.12/site-packages",
            f"{second}/python",
            f"{first}/python/lib/python3.12/site-packages",
            f"{first}/python",
        ]
        assert out["env"]["PATH"].endswith(f":{second}/bin:{first}/bin")
        assert out["env"]["LD_LIBRARY_PATH"].endswith(f":{second}/lib:{first}/lib")


def test_opt_is_read_only_and_has_nothing_of_the_host_without_layers(tmp_path: Path) -> None:
    code = """
import os

def handler(event, context):
    try:
        open("/opt/written", "w").close()
        wrote = True
    except OSError as exc:
        wrote = exc.errno
    return {"opt": os.listdir("/opt"), "wrote": wrote, "root": os.environ["LAMBDA_TASK_ROOT"]}
"""
    fn = function(tmp_path, "bare", code)
    layered = function(tmp_path, "layered", code).with_changes(
        name="layered", layer_dirs=(write_code(tmp_path / "l", {"data.txt": "x"}),)
    )
    _open(tmp_path)
    with Runtime([fn, layered], server=_server(tmp_path, "auto")) as rt:
        bare, one = rt.invoke("bare").json(), rt.invoke("layered").json()
    if bare["root"] != "/var/task":
        pytest.skip("needs the mount namespace (root)")
    assert bare["opt"] == [] and one["opt"] == ["data.txt"]
    assert bare["wrote"] == one["wrote"] == 30  # EROFS, as Lambda's /opt


def test_a_built_layer_requirements_make_their_packages_importable(tmp_path: Path) -> None:
    """The server's PyYAML counts as installed in a layer whose python/requirements.txt
    names it (what sam build installs there), and only for functions with that layer."""
    layer = write_code(tmp_path / "deps", {"python/requirements.txt": "PyYAML\n"})
    code = "def handler(event, context):\n    import yaml\n    return yaml.safe_load('a: 1')\n"
    with_layer = function(tmp_path, "with", code).with_changes(layer_dirs=(layer,))
    without = function(tmp_path, "without", code)
    _open(tmp_path)
    with Runtime([with_layer, without], server=_server(tmp_path, "auto")) as rt:
        assert rt.invoke("with").json() == {"a": 1}
        failed = rt.invoke("without")
    assert json.loads(failed.payload)["errorType"] == "ModuleNotFoundError"


@pytest.mark.parametrize("isolation", ISOLATION)
def test_node_requires_from_a_layer(tmp_path: Path, isolation: str) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    layer = write_code(
        tmp_path / "nodelayer",
        {
            "nodejs/node_modules/greeter/index.js": "module.exports = () => 'generic';\n",
            "nodejs/node20/node_modules/versioned/index.js": "module.exports = 'node20';\n",
        },
    )
    code = write_code(
        tmp_path / "nodecode",
        {
            "index.js": "exports.handler = async () => "
            "({greet: require('greeter')(), versioned: require('versioned')});\n"
        },
    )
    fn = FunctionConfig(
        name="nodefn", handler="index.handler", code_dir=code, runtime="nodejs20.x",
        layer_dirs=(layer,),
    )  # fmt: skip
    _open(tmp_path)
    with Runtime([fn], server=_server(tmp_path, isolation)) as rt:
        assert rt.invoke("nodefn").json() == {"greet": "generic", "versioned": "node20"}


@pytest.mark.parametrize("isolation", ISOLATION)
def test_a_custom_runtime_starts_from_a_layer_bootstrap(tmp_path: Path, isolation: str) -> None:
    """A layer can carry the runtime (``/opt/bootstrap``), the function only its handler."""
    runtime = write_code(tmp_path / "runtime", {"bootstrap": _BOOTSTRAP})
    (runtime / "bootstrap").chmod(0o755)
    code = write_code(tmp_path / "handler", {"handler.txt": "hello from the handler\n"})
    fn = FunctionConfig(
        name="custom", handler="handler.txt", code_dir=code, runtime="provided.al2023",
        layer_dirs=(runtime,),
    )  # fmt: skip
    _open(tmp_path)
    with Runtime([fn], server=_server(tmp_path, isolation)) as rt:
        out = rt.invoke("custom").json()
    assert out["handler"] == "hello from the handler"
    expected = "/opt/bootstrap" if out["task"] == "/var/task" else str(runtime / "bootstrap")
    assert out["argv0"] == expected


_BOOTSTRAP = f"""#!{sys.executable}
import json, os, sys, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
task = os.environ["LAMBDA_TASK_ROOT"]
body = {{
    "handler": open(os.path.join(task, os.environ["_HANDLER"])).read().strip(),
    "argv0": sys.argv[0], "task": task,
}}
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    urllib.request.urlopen(api + rid + "/response", data=json.dumps(body).encode())
"""


def test_a_snapshot_function_imports_from_its_layers_too(tmp_path: Path) -> None:
    """A snapshot template runs Init once and forks after it: its /opt and sys.path are the
    function's, as an environment's."""
    layers = _layers(tmp_path)
    code = "import shared, sitepkg  # at Init, in the template\n" + PROBE
    fn = function(tmp_path, "probe", code, snapshot=True).with_changes(layer_dirs=tuple(layers))
    server = ServerConfig(data_dir=tmp_path / "data", run_as="root")
    with Runtime([fn], server=server) as rt:
        out = rt.invoke("probe").json()
        assert not rt._async.host.launcher.template_failures
    assert (out["shared"], out["site"]) == ("second", "site")


def test_a_layer_bootstrap_that_cannot_start_is_named_as_lambda_names_it(tmp_path: Path) -> None:
    runtime = write_code(tmp_path / "runtime", {"bootstrap": "#!/bin/sh\nexit 0\n"})
    (runtime / "bootstrap").chmod(0o644)
    code = write_code(tmp_path / "handler", {"handler.txt": ""})
    fn = FunctionConfig(
        name="custom", handler="handler.txt", code_dir=code, runtime="provided.al2023",
        layer_dirs=(runtime,),
    )  # fmt: skip
    _open(tmp_path)
    with Runtime([fn], server=_server(tmp_path, "auto")) as rt:
        body = json.loads(rt.invoke("custom").payload)
    shown = "/opt/bootstrap" if os.geteuid() == 0 else runtime / "bootstrap"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert body["errorMessage"].endswith(f"fork/exec {shown}: permission denied")


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_a_private_layer_directory_keeps_the_function_root_and_says_why(tmp_path: Path) -> None:
    layer = write_code(tmp_path / "secret", {"python/dep.py": "X = 1\n"})
    code = "import os, dep\n\ndef handler(e, c):\n    return os.getuid()\n"
    fn = function(tmp_path, "private", code).with_changes(layer_dirs=(layer,))
    _open(fn.code_dir)
    layer.chmod(0o700)
    with Runtime([fn], server=_server(tmp_path, "auto")) as rt:
        uid = rt.invoke("private").json()
        warnings = rt.warnings
    assert uid == 0
    assert any(f"layer directory {layer.resolve()} is not readable" in w for w in warnings)
