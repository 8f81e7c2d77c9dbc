"""A custom runtime (``provided.al2023``) as Lambda treats it, where it differs from keepwarm's
own Python runtime: post-response work, the declared init error type, and memory used by the
bootstrap's children."""

from __future__ import annotations

import json
from pathlib import Path

from keepwarm import FunctionConfig, Runtime, ServerConfig
from tests.helpers import REPORT_RE, write_code

LOOP = """
import json, os, subprocess, sys, time, urllib.request

api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
if os.environ.get("DECLARE"):
    body = json.dumps({"errorType": "ConfigError", "errorMessage": "DB_URL is not set"})
    request = urllib.request.Request(
        f"{api}/init/error", data=body.encode(), method="POST",
        headers={"Lambda-Runtime-Function-Error-Type": os.environ["DECLARE"]},
    )
    urllib.request.urlopen(request).read()
    sys.exit(1)
while True:
    with urllib.request.urlopen(f"{api}/invocation/next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    answer = "done"
    if event.get("child_mb"):
        code = f"x = bytearray({event['child_mb']} << 20); print(len(x) >> 20)"
        answer = subprocess.run([sys.executable, "-c", code], capture_output=True).stdout
        answer = answer.decode().strip()
    post = urllib.request.Request(
        f"{api}/invocation/{rid}/response", data=json.dumps(answer).encode(), method="POST"
    )
    urllib.request.urlopen(post).read()
    time.sleep(event.get("after", 0))  # work after the answer, before asking for the next
"""


def _custom(tmp_path: Path, name: str, **kw: object) -> FunctionConfig:
    code = write_code(
        tmp_path / name,
        {"bootstrap": '#!/bin/sh\nexec python3 "$LAMBDA_TASK_ROOT/loop.py"\n',
         "loop.py": LOOP},
    )  # fmt: skip
    (code / "bootstrap").chmod(0o755)
    return FunctionConfig(name=name, handler="x", code_dir=code, runtime="provided.al2023", **kw)  # type: ignore[arg-type]


def test_an_answer_posted_before_the_timeout_reaches_its_caller(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Lambda hands the caller the response at /response; work after it that outlasts the
    timeout makes the invocation time out (REPORT, a fresh environment next), not the answer."""
    with Runtime([_custom(tmp_path, "late", timeout_s=1)], server=server) as rt:
        late = rt.invoke("late", {"after": 30})
        after = rt.invoke("late", {})
    assert late.function_error is None and late.json() == "done"
    report = REPORT_RE.search(late.logs)
    assert report is not None and "Status: timeout" in late.logs
    assert "Task timed out after 1.00 seconds" in late.logs
    assert after.start_kind.value == "cold" and after.json() == "done"


def test_the_declared_init_error_type_is_what_lambda_logs(
    tmp_path: Path, server: ServerConfig
) -> None:
    fn = _custom(tmp_path, "declares", environment={"DECLARE": "Runtime.ConfigMissing"})
    with Runtime([fn], server=server) as rt:
        result = rt.invoke("declares")
    assert json.loads(result.payload)["errorType"] == "ConfigError"  # the body, as posted
    assert "Status: error\tError Type: Runtime.ConfigMissing" in result.logs


def test_memory_used_by_the_bootstraps_children_is_reported(
    tmp_path: Path, server: ServerConfig
) -> None:
    with Runtime([_custom(tmp_path, "kids", memory_mb=512)], server=server) as rt:
        result = rt.invoke("kids", {"child_mb": 100})
    assert result.json() == "100"
    assert result.max_memory_mb >= 100, result.logs


def test_a_first_invocation_that_times_out_reports_the_runtimes_own_memory(
    tmp_path: Path, server: ServerConfig
) -> None:
    """The process is killed before it reports: its peak is read while it still lives."""
    code = write_code(
        tmp_path / "slow", {"app.py": "import time\ndef handler(e, c):\n    time.sleep(60)\n"}
    )
    fn = FunctionConfig(name="slow", handler="app.handler", code_dir=code, timeout_s=1)
    with Runtime([fn], server=server) as rt:
        result = rt.invoke("slow")
    assert "Status: timeout" in result.logs
    assert result.max_memory_mb >= 8, result.logs  # a Python runtime, not a 3 MB charge
