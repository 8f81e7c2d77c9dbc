"""What an environment sees: Lambda's variables and nothing of the host; its own /tmp; /var/task."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm import AsyncRuntime, Runtime, ServerConfig
from tests.helpers import function

PROBE = """
import os

def handler(event, context):
    if event.get("write"):
        with open("/tmp/mine", "w") as fh:
            fh.write(event["write"])
    def read(path):
        try:
            return open(path).read()
        except OSError as exc:
            return type(exc).__name__
    return {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "tmp": read("/tmp/mine"),
        "tmpdir": os.environ.get("TMPDIR"),
        "peek": [read(p) for p in event.get("peek", [])],
        "ls": {p: os.path.isdir(p) and sorted(os.listdir(p)) for p in event.get("ls", [])},
    }
"""

NAMESPACES = os.geteuid() == 0


@pytest.fixture
def host_secret() -> Iterator[str]:
    os.environ["KEEPWARM_TEST_HOST_SECRET"] = "s3cr3t-host-value"
    yield "KEEPWARM_TEST_HOST_SECRET"
    del os.environ["KEEPWARM_TEST_HOST_SECRET"]


def test_lambda_variables_present_host_variables_absent(
    tmp_path: Path, server: ServerConfig, host_secret: str
) -> None:
    fn = function(tmp_path, "probe", PROBE, memory_mb=256, environment={"STAGE": "test"})
    with Runtime([fn], server=server) as rt:
        env = rt.invoke("probe").json()["env"]
    assert host_secret not in env
    assert "s3cr3t-host-value" not in env.values()
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": "probe",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/probe",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "app.handler",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "LC_CTYPE": "C.UTF-8",
        "SHLVL": "0",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "STAGE": "test",
    }
    assert {k: env.get(k) for k in expected} == expected
    for key in (
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "PATH",
        "LD_LIBRARY_PATH",
    ):
        assert env.get(key), key
    assert "AWS_LAMBDA_FUNCTION_TIMEOUT" not in env
    assert env["AWS_ACCESS_KEY_ID"] != os.environ.get("AWS_ACCESS_KEY_ID")


@pytest.mark.skipif(not NAMESPACES, reason="mount namespaces need root")
def test_code_at_var_task_and_data_dir_hidden(tmp_path: Path, server: ServerConfig) -> None:
    fn = function(tmp_path, "probe", PROBE)
    data = str(server.data_dir.resolve())
    with Runtime([fn], server=server) as rt:
        out = rt.invoke("probe", {"ls": ["/var/task", data]}).json()
    assert out["cwd"] == "/var/task" and out["env"]["LAMBDA_TASK_ROOT"] == "/var/task"
    assert out["ls"]["/var/task"] == ["app.py"]
    assert out["ls"][data] in ([], False)


@pytest.mark.skipif(not NAMESPACES, reason="mount namespaces need root")
def test_a_data_dir_inside_the_code_is_hidden_at_var_task_too(tmp_path: Path) -> None:
    """With ``CodeUri: .`` and the default ``--data-dir .keepwarm`` the data dir lies in the
    code, which /var/task shows again: it was hidden only at its own path, so a function read
    every function's environment variables from registry.db there."""
    fn = function(tmp_path, "probe", PROBE)
    server = ServerConfig(data_dir=fn.code_dir / ".keepwarm")
    with Runtime([fn], server=server) as rt:
        out = rt.invoke("probe", {"ls": ["/var/task/.keepwarm"]}).json()
    assert any((fn.code_dir / ".keepwarm").iterdir())
    assert out["ls"]["/var/task/.keepwarm"] == []


SET_ID = """
import subprocess

def handler(event, context):
    return subprocess.run(["/var/task/myid", "-u"], capture_output=True, text=True).stdout
"""


@pytest.mark.skipif(not NAMESPACES, reason="mount namespaces need root")
def test_a_setuid_root_file_in_the_code_does_not_make_the_function_root(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Code and /tmp are mounted ``nosuid``: a setuid-root copy of ``id`` ran as euid 0."""
    fn = function(tmp_path, "setid", SET_ID)
    target = fn.code_dir / "myid"
    shutil.copy2("/usr/bin/id", target)
    os.chown(target, 0, 0)
    target.chmod(0o4755)
    with Runtime([fn], server=server) as rt:
        euid = rt.invoke("setid").json()
    assert euid.strip().isdigit() and euid.strip() != "0", euid


def test_each_environment_has_a_private_tmp_that_persists_while_warm(
    tmp_path: Path, server: ServerConfig
) -> None:
    async def main() -> list[dict[str, object]]:
        fns = [function(tmp_path, "a", PROBE), function(tmp_path, "b", PROBE)]
        async with AsyncRuntime(fns, server=server) as rt:
            await rt.invoke("a", {"write": "from-a"})
            await rt.invoke("b", {"write": "from-b"})
            again_a, again_b = await rt.invoke("a"), await rt.invoke("b")
            c1, c2 = await asyncio.gather(rt.invoke("a"), rt.invoke("a"))
            return [again_a.json(), again_b.json(), c1.json(), c2.json()]

    a, b, c1, c2 = asyncio.run(main())
    assert (a["tmp"], b["tmp"]) == ("from-a", "from-b")
    assert sorted([c1["tmp"], c2["tmp"]]) == ["FileNotFoundError", "from-a"]


def test_without_namespaces_tmpdir_is_private(tmp_path: Path) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", isolation="none")
    fn = function(tmp_path, "probe", PROBE)
    with Runtime([fn], server=server) as rt:
        out = rt.invoke("probe").json()
        warnings = rt.warnings
    assert out["tmpdir"] and out["tmpdir"].startswith(str((tmp_path / "data").resolve()))
    assert out["cwd"] == str(fn.code_dir)
    assert any("TMPDIR" in w for w in warnings)


@pytest.mark.skipif(not NAMESPACES, reason="dropping privileges needs root")
def test_private_code_dir_still_runs_and_says_why(tmp_path: Path, server: ServerConfig) -> None:
    fn = function(tmp_path, "private", "def handler(e, c):\n    return 'ok'\n")
    fn.code_dir.chmod(0o700)
    with Runtime([fn], server=server) as rt:
        result = rt.invoke("private")
        warnings = rt.warnings
    assert result.json() == "ok"
    assert any("private runs as root" in w and "chmod o+rx" in w for w in warnings)


SHARED_MEMORY = """
import ctypes, multiprocessing, os

libc = ctypes.CDLL(None, use_errno=True)
KEY, IPC_CREAT = 0x4B57, 0o1000

def handler(event, context):
    out = {"shm": os.listdir("/dev/shm")}
    try:
        multiprocessing.Pool(2).close()
        out["pool"] = "works"
    except OSError:
        out["pool"] = "fails"
    flags = IPC_CREAT | 0o666 if event["create"] else 0
    out["sysv"] = libc.shmget(KEY, 4096, flags) >= 0
    return out
"""


@pytest.mark.skipif(not NAMESPACES, reason="mount and IPC namespaces need root")
def test_no_shared_memory_as_on_lambda_and_none_between_environments(
    tmp_path: Path, server: ServerConfig
) -> None:
    maker = function(tmp_path, "maker", SHARED_MEMORY)
    looker = function(tmp_path, "looker", SHARED_MEMORY)
    with Runtime([maker, looker], server=server) as rt:
        made = rt.invoke("maker", {"create": True}).json()
        seen = rt.invoke("looker", {"create": False}).json()
    assert made == {"shm": [], "pool": "fails", "sysv": True}  # its own namespace's segment
    assert seen == {"shm": [], "pool": "fails", "sysv": False}  # not the other's


FORGER = """
import json, os, socket, struct

def handler(event, context):
    for fd in os.listdir("/proc/self/fd"):
        link = f"/proc/self/fd/{fd}"
        if os.path.exists(link) and os.readlink(link).startswith("socket:"):
            meta = json.dumps({"t": "response", "id": "someone-else", "next": {}}).encode()
            with socket.socket(fileno=os.dup(int(fd))) as sock:
                sock.sendall(struct.pack(">II", len(meta), 6) + meta + b'"fake"')
    return "real answer for " + context.aws_request_id
"""


def test_an_answer_forged_on_the_runtime_socket_is_ignored(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Handler code can reach its runtime's socket; an answer it forges for another request
    must neither end its own invocation early nor ready its environment for another caller
    (the Runtime API refuses such an id with InvalidRequestID)."""
    fn = function(tmp_path, "forger", FORGER)
    with Runtime([fn], server=server) as rt:
        for _ in range(2):
            result = rt.invoke("forger")
            assert result.json() == f"real answer for {result.request_id}"
