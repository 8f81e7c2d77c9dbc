"""awslambdaric, unmodified, as a ``provided.al2023`` custom runtime through ``keepwarm.Runtime``.

The function's ``bootstrap`` is the two lines AWS documents; ``python3`` resolves through the
environment's PATH (the venv's bin first), which has awslambdaric installed. Real processes,
real Runtime API endpoint: this is what makes keepwarm believable to AWS's own client.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig
from keepwarm.invocation import StartKind
from tests.helpers import REPORT_RE, write_code

pytest.importorskip("awslambdaric")

BOOTSTRAP = "#!/bin/sh\nexec python3 -m awslambdaric app.handler\n"
APP = """
import os, time

calls = 0

def handler(event, context):
    global calls
    calls += 1
    print("handling", calls)
    if event.get("fail"):
        raise ValueError("no good: " + str(event["fail"]))
    return {
        "calls": calls,
        "pid": os.getpid(),
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "version": context.function_version,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "client": context.client_context.custom if context.client_context else None,
        "event": event,
    }
"""


def custom_function(tmp: Path, name: str, files: dict[str, str], **kw: object) -> FunctionConfig:
    code = write_code(tmp / f"code-{name}", {"bootstrap": BOOTSTRAP, **files})
    boot = code / "bootstrap"
    boot.chmod(boot.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FunctionConfig(
        name=name,
        handler="app.handler",
        code_dir=code,
        runtime="provided.al2023",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def ric(tmp_path: Path) -> Iterator[Runtime]:
    functions = [
        custom_function(tmp_path, "ric", {"app.py": APP}, timeout_s=30),
        custom_function(tmp_path, "broken", {"app.py": "import no_such_module_here\n"}),
        custom_function(tmp_path, "nohandler", {"app.py": "x = 1\n"}),
    ]
    with Runtime(functions, server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        yield rt


def test_success_context_and_remaining_time(ric: Runtime) -> None:
    cc = json.dumps({"custom": {"who": "test"}, "client": {}, "env": {}})
    result = ric.invoke("ric", {"a": [1, "two"]}, client_context=cc)
    assert result.ok, result.payload
    body = result.json()
    assert body["event"] == {"a": [1, "two"]}  # Content-Type exactly application/json
    assert 0 < body["remaining"] <= 30_000
    assert body["remaining"] > 20_000  # Deadline-Ms is epoch ms, not 0
    assert body["request_id"] == result.request_id
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ric"
    assert (body["name"], body["memory"], body["version"]) == ("ric", "128", "$LATEST")
    assert body["group"] == "/aws/lambda/ric" and body["stream"]
    assert body["client"] == {"who": "test"}


def test_warm_reuse_keeps_the_process_and_its_globals(ric: Runtime) -> None:
    first, second = ric.invoke("ric", {}), ric.invoke("ric", {})
    assert (first.start_kind, second.start_kind) == (StartKind.COLD, StartKind.WARM)
    assert first.env_id == second.env_id
    assert first.json()["pid"] == second.json()["pid"]
    assert second.json()["calls"] == first.json()["calls"] + 1
    assert first.init_duration_ms is not None and second.init_duration_ms is None


def test_handler_error_has_awslambdaric_shape_and_does_not_reset(ric: Runtime) -> None:
    ok = ric.invoke("ric", {})
    failed = ric.invoke("ric", {"fail": 7})
    assert failed.function_error == "Unhandled"
    body = failed.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "no good: 7"
    assert body["requestId"] == failed.request_id
    assert any("app.py" in frame for frame in body["stackTrace"])
    again = ric.invoke("ric", {})
    assert again.start_kind is StartKind.WARM
    assert again.json()["pid"] == ok.json()["pid"]


def test_logs_sit_between_start_and_report(ric: Runtime) -> None:
    result = ric.invoke("ric", {})
    lines = result.logs.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("END RequestId:"))
    assert any("handling" in line for line in lines[start + 1 : end])
    assert REPORT_RE.search(result.logs)


def test_init_error_returns_the_runtimes_body_and_reruns_init(ric: Runtime) -> None:
    first = ric.invoke("broken", {})
    assert first.function_error == "Unhandled"
    assert first.json()["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module_here" in first.json()["errorMessage"]
    second = ric.invoke("broken", {})
    assert second.json()["errorType"] == "Runtime.ImportModuleError"


def test_handler_not_found(ric: Runtime) -> None:
    result = ric.invoke("nohandler", {})
    assert result.json()["errorType"] == "Runtime.HandlerNotFound"


def test_the_bootstrap_sees_lambdas_environment(tmp_path: Path) -> None:
    env_app = "import os\ndef handler(e, c):\n    return dict(os.environ)\n"
    fn = custom_function(tmp_path, "envfn", {"app.py": env_app})
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        env = rt.invoke("envfn", {}).json()
    host, _, port = env["AWS_LAMBDA_RUNTIME_API"].partition(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert "AWS_EXECUTION_ENV" not in env  # absent for provided.* (contract §3.1)
    assert env["_HANDLER"] == "app.handler"
    assert env["PATH"].split(":")[0] == os.path.dirname(sys.executable)
