"""Serving process behaviour: bind policy, graceful shutdown, remote invoke from the CLI side."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keepwarm.cli.remote import RemoteError, invoke_remote
from tests.lambda_api.kw_server import Server, create, wait_for

SLOW = """
import os, time
def handler(event, context):
    open(os.path.join(os.environ["SIDE"], "started-" + context.aws_request_id), "w").close()
    time.sleep(event.get("sleep", 1.0))
    return {"slept": event.get("sleep", 1.0)}
"""


def test_non_loopback_bind_is_refused_without_insecure(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "keepwarm.cli.main",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr and "--insecure" in done.stderr


def _invoke_in_thread(
    serve_proc: Server, payload: dict[str, Any]
) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            resp = serve_proc.client().invoke(
                FunctionName="slow", Payload=json.dumps(payload).encode()
            )
            out.append(json.loads(resp["Payload"].read()))
        except ClientError as exc:
            out.append(exc.response)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_sigterm_lets_in_flight_invocations_finish(
    serve_proc: Server, serve_lam: Any, side_dir: Path
) -> None:
    create(serve_lam, "slow", SLOW, Environment={"Variables": {"SIDE": str(side_dir)}})
    thread, out = _invoke_in_thread(serve_proc, {"sleep": 1.0})
    wait_for(lambda: any(side_dir.glob("started-*")))
    assert serve_proc.stop(signal.SIGTERM) == 0  # also asserts that no process is left behind
    thread.join(30)
    assert out == [{"slept": 1.0}]


def test_shutdown_timeout_gives_a_clear_error(start_server: Any, side_dir: Path) -> None:
    srv: Server = start_server("--shutdown-timeout", "1")
    serve_lam = srv.client()
    create(serve_lam, "slow", SLOW, Environment={"Variables": {"SIDE": str(side_dir)}}, Timeout=30)
    thread, out = _invoke_in_thread(srv, {"sleep": 20})
    wait_for(lambda: any(side_dir.glob("started-*")))
    srv.stop(signal.SIGTERM)
    thread.join(30)
    assert out and out[0]["Error"]["Code"] == "ServiceException"
    assert "shutting down" in out[0]["Error"]["Message"]
    said = srv.stderr()
    assert "Cancel 1 running task" not in said  # uvicorn's words, said as keepwarm's:
    assert (
        "keepwarm: 1 request(s) still running after --shutdown-timeout 1 s were cancelled; "
        "their callers got ServiceException\n" in said
    )


def test_invoke_remote(serve_proc: Server, serve_lam: Any) -> None:
    create(serve_lam, "echo", "def handler(e, c):\n    print('hi')\n    return e\n")
    out = invoke_remote(serve_proc.url, "echo", b'{"k": 1}', None, True)
    assert out["StatusCode"] == 200 and json.loads(out["Payload"]) == {"k": 1}
    assert out["ExecutedVersion"] == "$LATEST" and out["FunctionError"] is None
    assert (
        "hi\n" in out["LogResult"] and "REPORT RequestId: " + out["RequestId"] in out["LogResult"]
    )
    with pytest.raises(RemoteError) as err:
        invoke_remote(serve_proc.url, "missing", b"{}", None, False)
    assert err.value.code == "ResourceNotFoundException" and err.value.status == 404
    with pytest.raises(RemoteError):
        invoke_remote("http://127.0.0.1:1", "echo", b"{}", None, False)
