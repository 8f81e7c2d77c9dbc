"""Peer: serverless-offline (serverless@3 + serverless-offline@13) running the same no-op
Python handler, invoked through boto3 on 127.0.0.1 (its Lambda port).

Installed by ``make bench-peers`` into bench/.peers; skipped with a note when absent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from bench import http_floor
from bench.common import NOOP, PEERS, summary

SLS = PEERS / "node_modules" / "serverless" / "bin" / "serverless.js"
SERVICE = """service: kwbench
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.12
  region: us-east-1
plugins:
  - serverless-offline
functions:
  noop:
    handler: app.handler
"""


def available() -> str | None:
    """None when it can run, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not SLS.exists() or not (PEERS / "node_modules" / "serverless-offline").exists():
        return "not installed (run `make bench-peers`)"
    return None


def _start(service: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
        "SLS_DEPRECATION_DISABLE": "*",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    argv = ["node", str(SLS), "offline", "start", "--lambdaPort", str(port)]
    argv += ["--httpPort", str(http_floor.free_port()), "--host", "127.0.0.1"]
    argv += ["--websocketPort", str(http_floor.free_port())]
    return subprocess.Popen(
        argv,
        cwd=service,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def run(n: int) -> dict[str, Any]:
    why = available()
    if why is not None:
        return {"skipped": why}
    service = PEERS / "sls-service"
    service.mkdir(exist_ok=True)
    (service / "serverless.yml").write_text(SERVICE)
    (service / "app.py").write_text(NOOP)
    port = http_floor.free_port()
    proc = _start(service, port)
    try:
        http_floor.wait_port(port, timeout=60)
        first = http_floor.boto3_latency(port, 1, function="kwbench-dev-noop", warmup=0)
        warm = http_floor.boto3_latency(port, n, function="kwbench-dev-noop")
        return {
            "version": "serverless@3 + serverless-offline@13",
            "sls_first_call_ms": first[0],
            "sls_warm_boto3": summary(warm),
            "samples": warm,
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
