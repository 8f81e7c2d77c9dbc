"""``keepwarm serve`` over HTTP: warm invoke latency, throughput at concurrency 4, and the
async (``InvocationType=Event``) enqueue rate, on the same no-op handler as every other system.

The floor is the bare ASGI echo (bench/http_floor.py) on the same uvicorn + httptools stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import http_floor
from bench.common import NOOP, code_dir, scratch, summary

TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  noop:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: noop
      Handler: app.handler
      Runtime: python3.12
      CodeUri: {code}
"""

_EVENTS = """
import http.client, sys, time
port, seconds, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port)
n, end = 0, time.monotonic() + seconds
headers = {"content-type": "application/json", "X-Amz-Invocation-Type": "Event"}
while time.monotonic() < end:
    conn.request("POST", path, body=b"{}", headers=headers)
    r = conn.getresponse(); r.read()
    n += r.status == 202
print(n)
"""


@contextmanager
def keepwarm_server(spin_us: int | None = None) -> Iterator[int]:
    work = scratch("kwbench-serve-")
    (work / "template.yaml").write_text(TEMPLATE.format(code=code_dir("noop", NOOP)))
    port = http_floor.free_port()
    argv = [sys.executable, "-m", "keepwarm.cli.main", "serve", "--port", str(port)]
    argv += ["--data-dir", str(work / "data"), "--template", str(work / "template.yaml")]
    env = dict(os.environ)
    if spin_us is not None:
        env["KEEPWARM_SPIN_US"] = str(spin_us)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        http_floor.wait_port(port)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def event_rate(port: int, concurrency: int = 4, seconds: float = 3.0) -> float:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _EVENTS, str(port), str(seconds), http_floor.INVOKE_PATH],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(concurrency)
    ]
    return sum(int(p.communicate()[0].strip() or 0) for p in procs) / seconds


def run(n: int) -> dict[str, Any]:
    try:
        import keepwarm.lambda_api  # noqa: F401
    except ImportError:
        return {"skipped": "keepwarm.lambda_api (keepwarm serve) does not exist yet"}
    with keepwarm_server() as port:
        http_floor.http_latency(port, 100)  # cold start + warm-up off the clock
        out: dict[str, Any] = {
            "serve_http": summary(http_floor.http_latency(port, n)),
            "serve_boto3": summary(http_floor.boto3_latency(port, max(n // 4, 200))),
        }
        time.sleep(0.5)
        out["async_enqueue_per_s"] = event_rate(port)
    with keepwarm_server(spin_us=0) as port:  # the same without spin-waiting, for comparison
        http_floor.http_latency(port, 100)
        out["serve_http_nospin"] = summary(http_floor.http_latency(port, n))
    return out
