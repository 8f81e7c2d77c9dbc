"""Init failures (§9.2): the runtime's error body reaches the caller; Init re-runs each time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig
from tests.helpers import REPORT_RE, write_code

CASES = [
    (
        "nodot",
        {"app.py": "def handler(e, c):\n    return 1\n"},
        "Runtime.MalformedHandlerName",
        "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)",
    ),
    (
        "missing.handler",
        {"app.py": "x = 1\n"},
        "Runtime.ImportModuleError",
        "Unable to import module 'missing': No module named 'missing'",
    ),
    (
        "app.nothere",
        {"app.py": "x = 1\n"},
        "Runtime.HandlerNotFound",
        "Handler 'nothere' missing on module 'app'",
    ),
    (
        "app.handler",
        {"app.py": "def handler(e, c)\n    return 1\n"},
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app': expected ':' (app.py, line 1)",
    ),
    (
        "app.handler",
        {
            "app.py": "class ConfigMissing(Exception):\n    pass\n\n"
            "raise ConfigMissing('no DB_URL')\n"
        },
        "ConfigMissing",
        "no DB_URL",
    ),
    (
        "sys.handler",
        {"app.py": "x = 1\n"},
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module sys as a handler module",
    ),
]


@pytest.mark.parametrize(
    ("handler", "files", "error_type", "message"), CASES, ids=[c[2] for c in CASES]
)
def test_init_error_reaches_the_caller_and_init_reruns(
    tmp_path: Path,
    server: ServerConfig,
    handler: str,
    files: dict[str, str],
    error_type: str,
    message: str,
) -> None:
    code = write_code(tmp_path / "code", files)
    cfg = FunctionConfig(name="broken", handler=handler, code_dir=code)
    with Runtime([cfg], server=server) as rt:
        first = rt.invoke("broken")
        second = rt.invoke("broken")
    # Lambda's own lines keep a Runtime.X type and say Runtime.Unknown for any other; the
    # caller gets the body as the runtime posted it.
    logged = error_type if error_type.startswith("Runtime.") else "Runtime.Unknown"
    for result in (first, second):
        body = json.loads(result.payload)
        assert result.function_error == "Unhandled"
        assert (body["errorType"], body["errorMessage"]) == (error_type, message)
        assert body["requestId"] == ""
        assert isinstance(body["stackTrace"], list)
        report = REPORT_RE.search(result.logs)
        assert report is not None and report["etype"] == logged and report["i"] is None
        assert f"Phase: invoke\tStatus: error\tError Type: {logged}" in result.logs
    assert f"Phase: init\tStatus: error\tError Type: {logged}" in first.logs
    assert "Phase: init" not in second.logs
    assert first.env_id == second.env_id


def test_init_that_exits_is_an_exit_error(tmp_path: Path, server: ServerConfig) -> None:
    code = write_code(tmp_path / "code", {"app.py": "import sys\nsys.exit(7)\n"})
    with Runtime(
        [FunctionConfig(name="f", handler="app.handler", code_dir=code)], server=server
    ) as rt:
        result = rt.invoke("f")
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
        "exit status 7",
    }


def test_init_runs_module_code_exactly_once_per_environment(
    tmp_path: Path, server: ServerConfig
) -> None:
    source = (
        "import os\ninits = []\ninits.append(os.getpid())\n\ndef handler(e, c):\n    return inits\n"
    )
    code = write_code(tmp_path / "code", {"app.py": source})
    with Runtime(
        [FunctionConfig(name="f", handler="app.handler", code_dir=code)], server=server
    ) as rt:
        results = [rt.invoke("f").json() for _ in range(5)]
    assert all(r == results[0] and len(r) == 1 for r in results)


BOOT = """
import json, os, time, urllib.request

print("config missing: posting", flush=True)
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
body = json.dumps({"errorType": "Custom.InitBoom", "errorMessage": "no config"}).encode()
request = urllib.request.Request(
    f"http://{api}/2018-06-01/runtime/init/error", data=body, method="POST",
    headers={"Lambda-Runtime-Function-Error-Type": "Custom.InitBoom"},
)
urllib.request.urlopen(request).read()
time.sleep(600)
"""


def test_an_init_error_ends_init_even_if_the_runtime_does_not_exit(
    tmp_path: Path, server: ServerConfig
) -> None:
    code = write_code(
        tmp_path / "code",
        {"bootstrap": '#!/bin/sh\nexec python3 "$LAMBDA_TASK_ROOT/boot.py"\n', "boot.py": BOOT},
    )
    (code / "bootstrap").chmod(0o755)
    fn = FunctionConfig(
        name="hangs", handler="x", code_dir=code, runtime="provided.al2023", timeout_s=30
    )
    with Runtime([fn], server=server) as rt:
        results = [rt.invoke("hangs"), rt.invoke("hangs")]
    for result in results:
        assert json.loads(result.payload) == {
            "errorType": "Custom.InitBoom",
            "errorMessage": "no config",
        }
        assert "config missing: posting" in result.logs
        # Not Lambda's Runtime.X/Function.X convention: its own lines say Runtime.Unknown.
        assert "Status: error\tError Type: Runtime.Unknown" in result.logs


def test_a_failed_init_reports_the_memory_its_process_used(
    tmp_path: Path, server: ServerConfig
) -> None:
    """The runtime reports its peak after each invocation, but a failed Init never gets that
    far: the peak comes from the process's exit (it used to read the cgroup's own charge,
    which leaves out what the fork server had already loaded: 3 MB)."""
    ok = write_code(tmp_path / "ok", {"app.py": "def handler(e, c):\n    return 1\n"})
    bad = write_code(tmp_path / "bad", {"app.py": "raise RuntimeError('boom')\n"})
    configs = [
        FunctionConfig(name="ok", handler="app.handler", code_dir=ok),
        FunctionConfig(name="bad", handler="app.handler", code_dir=bad),
    ]
    with Runtime(configs, server=server) as rt:
        fine, failed = rt.invoke("ok"), rt.invoke("bad")
    assert failed.function_error == "Unhandled"
    report = REPORT_RE.search(failed.logs)
    assert report is not None and int(report["u"]) == failed.max_memory_mb
    assert failed.max_memory_mb >= fine.max_memory_mb // 2
