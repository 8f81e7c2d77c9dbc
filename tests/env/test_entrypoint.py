"""A custom runtime whose ``bootstrap`` cannot start is ``Runtime.InvalidEntrypoint``, in
Lambda's words; one that starts and then exits 127 itself stays ``Runtime.ExitError``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig

NAMESPACE_ROOT = os.geteuid() == 0
ELF_MACHINE = {"x86_64": 183, "aarch64": 62}.get(os.uname().machine, 183)  # a foreign one
FOREIGN_ELF = (
    "\x7fELF\x02\x01\x01" + "\x00" * 9 + "\x02\x00" + chr(ELF_MACHINE) + "\x00" * 45
)  # task root shows as /var/task inside a mount namespace


def _function(tmp_path: Path, bootstrap: str | None, mode: int = 0o755) -> FunctionConfig:
    code = tmp_path / "code"
    code.mkdir()
    if bootstrap is not None:
        (code / "bootstrap").write_bytes(bootstrap.encode("latin-1"))
        (code / "bootstrap").chmod(mode)
    return FunctionConfig(
        name="custom", handler="x", code_dir=code, runtime="provided.al2023", timeout_s=10
    )


def _invoke_twice(tmp_path: Path, fn: FunctionConfig) -> list[tuple[dict[str, str], str]]:
    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        results = [rt.invoke("custom"), rt.invoke("custom")]
    assert all(r.function_error == "Unhandled" for r in results)
    return [(json.loads(r.payload), r.logs) for r in results]


@pytest.mark.parametrize(
    ("bootstrap", "mode", "message"),
    [
        (None, 0o755, "Couldn't find valid bootstrap(s): [{root}/bootstrap /opt/bootstrap]"),
        ("#!/bin/sh\necho hi\n", 0o644, "fork/exec {root}/bootstrap: permission denied"),
        ("#!/no/such/shell\n", 0o755, "fork/exec {root}/bootstrap: no such file or directory"),
        ("echo no shebang\n", 0o755, "fork/exec {root}/bootstrap: exec format error"),
        (FOREIGN_ELF, 0o755, "fork/exec {root}/bootstrap: exec format error"),
    ],
)
def test_a_bootstrap_that_cannot_start_is_an_invalid_entrypoint(
    tmp_path: Path, bootstrap: str | None, mode: int, message: str
) -> None:
    fn = _function(tmp_path, bootstrap, mode)
    root = "/var/task" if NAMESPACE_ROOT else str(fn.code_dir)
    for body, logs in _invoke_twice(tmp_path, fn):
        assert body["errorType"] == "Runtime.InvalidEntrypoint"
        assert body["errorMessage"].startswith("RequestId: ")
        assert body["errorMessage"].endswith(" Error: " + message.format(root=root))
        assert "Error Type: Runtime.InvalidEntrypoint" in logs


def test_a_bootstrap_that_exits_127_itself_is_an_exit_error(tmp_path: Path) -> None:
    fn = _function(tmp_path, "#!/bin/sh\nexit 127\n")
    for body, _ in _invoke_twice(tmp_path, fn):
        assert body["errorType"] == "Runtime.ExitError"
        assert body["errorMessage"].endswith("Runtime exited with error: exit status 127")
