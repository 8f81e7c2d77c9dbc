"""``keepwarm serve --backend ray``: Lambda's semantics with environments on a Ray cluster's nodes.

A real two-node Ray cluster (``ray_cluster``), a real ``keepwarm serve`` joining it, boto3 as the
client. Which node served an invocation shows in the handler's parent: each node's agent has a
fork server of its own.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig
from keepwarm.cluster.agent import nodes_root
from tests.helpers import REPORT_RE, keepwarm_processes, wait_for, write_code
from tests.lambda_api.kw_server import ROLE, Server, alive, make_zip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# Each call waits until event["n"] calls are running at once (a barrier of files), so that n
# concurrent invocations need n environments whatever the timing.
APP = """
import os, pathlib, time
count = 0
def handler(event, context):
    global count
    count += 1
    if "dir" in event:
        here = pathlib.Path(event["dir"])
        (here / context.aws_request_id).touch()
        deadline = time.time() + 60
        while len(list(here.iterdir())) < event["n"] and time.time() < deadline:
            time.sleep(0.005)
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "mark" in event:
        pathlib.Path(event["mark"]).write_text(str(os.getppid()))
    if "megabytes" in event:
        hog = bytearray(event["megabytes"] << 20)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
    return {"count": count, "node": os.getppid(), "cwd": os.getcwd()}
"""

TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: Fn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: {code}
      Timeout: 90
      MemorySize: 128
"""


@pytest.fixture
def ray_server(
    ray_cluster: Any, start_server: Callable[..., Server], tmp_path: Path
) -> Callable[..., Server]:
    code = write_code(tmp_path / "code", {"app.py": APP})
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(code=code))

    def start(*args: str) -> Server:
        return start_server(
            "--backend", "ray", "--ray-address", ray_cluster.address, "-t", str(template), *args
        )

    return start


def call(lam: Any, event: dict[str, Any], name: str = "Fn") -> tuple[dict[str, Any], str]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    payload = json.loads(out["Payload"].read())
    return payload, base64.b64decode(out["LogResult"]).decode()


def concurrently(lam: Any, side_dir: Path, n: int) -> list[dict[str, Any]]:
    barrier = side_dir / f"barrier-{len(list(side_dir.iterdir()))}"
    barrier.mkdir(mode=0o777)
    barrier.chmod(0o777)
    with ThreadPoolExecutor(n) as pool:
        return [
            p for p, _ in pool.map(lambda _: call(lam, {"dir": str(barrier), "n": n}), range(n))
        ]


def test_warm_reuse_and_cold_starts_as_on_lambda(ray_server: Callable[..., Server]) -> None:
    lam = ray_server().client()
    first, cold_log = call(lam, {})
    second, warm_log = call(lam, {})
    assert (first["count"], second["count"]) == (1, 2)  # the same environment, globals kept
    assert first["node"] == second["node"] and first["cwd"] == "/var/task"
    cold, warm = REPORT_RE.search(cold_log), REPORT_RE.search(warm_log)
    assert cold is not None and cold["i"] is not None  # Init Duration on the cold start only
    assert warm is not None and warm["i"] is None and warm["m"] == "128"


def test_concurrent_invocations_get_their_own_environments_on_both_nodes(
    ray_server: Callable[..., Server], side_dir: Path
) -> None:
    lam = ray_server().client()
    results = concurrently(lam, side_dir, 4)
    assert [r["count"] for r in results] == [1, 1, 1, 1]  # four environments, none shared
    nodes = [r["node"] for r in results]
    assert len(set(nodes)) == 2 and sorted(nodes.count(n) for n in set(nodes)) == [2, 2]
    again = concurrently(lam, side_dir, 4)  # all four are reused, none started anew
    assert sorted(r["count"] for r in again) == [2, 2, 2, 2]


def test_an_async_event_runs_on_the_cluster(
    ray_server: Callable[..., Server], side_dir: Path
) -> None:
    server = ray_server("--async-time-scale", "0.001")
    lam = server.client()
    mark = side_dir / "event-ran"
    out = lam.invoke(
        FunctionName="Fn", InvocationType="Event", Payload=json.dumps({"mark": str(mark)})
    )
    assert out["StatusCode"] == 202
    wait_for(lambda: "REPORT RequestId" in _streams(server), timeout=60)  # it ended, on a node
    assert mark.exists()
    answer, _ = call(lam, {})
    assert answer["count"] == 2 and str(answer["node"]) == mark.read_text()  # the same environment


def test_a_timeout_kills_the_environment_and_the_next_call_is_cold(
    ray_server: Callable[..., Server], tmp_path: Path
) -> None:
    lam = ray_server().client()
    lam.update_function_configuration(FunctionName="Fn", Timeout=1)
    lam.get_waiter("function_updated_v2").wait(FunctionName="Fn")
    out = lam.invoke(FunctionName="Fn", Payload=json.dumps({"sleep": 30}), LogType="Tail")
    body = json.loads(out["Payload"].read())
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in base64.b64decode(out["LogResult"]).decode()
    after, log = call(lam, {})
    assert after["count"] == 1 and "Init Duration" in log


def test_memory_size_is_enforced_on_the_node(ray_server: Callable[..., Server]) -> None:
    lam = ray_server().client()
    out = lam.invoke(FunctionName="Fn", Payload=json.dumps({"megabytes": 400}), LogType="Tail")
    body = json.loads(out["Payload"].read())
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.OutOfMemory"
    report = REPORT_RE.search(base64.b64decode(out["LogResult"]).decode())
    assert report is not None and report["status"] == "error"


def test_new_code_reaches_the_nodes(ray_server: Callable[..., Server]) -> None:
    lam = ray_server().client()
    source = "def handler(e, c):\n    return {{'version': {}}}\n"
    lam.create_function(
        FunctionName="Zipped",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": source.format(1)})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="Zipped")
    assert call(lam, {}, "Zipped")[0] == {"version": 1}
    lam.update_function_code(FunctionName="Zipped", ZipFile=make_zip({"app.py": source.format(2)}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="Zipped")
    assert call(lam, {}, "Zipped")[0] == {"version": 2}


def test_the_servers_data_dir_holds_every_log_line(
    ray_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = ray_server()
    lam = server.client()
    call(lam, {})
    _, tail = call(lam, {})
    server.stop()  # the environments stop: their last lines come back too
    streams = list((server.data_dir / "logs" / "Fn").rglob("*.log"))
    assert len(streams) == 1
    text = streams[0].read_text()
    assert text.startswith("INIT_START Runtime Version: python:3.12")
    assert text.count("START RequestId") == 2 and len(REPORT_RE.findall(text)) == 2
    assert tail.strip() in text


def test_a_lost_node_takes_its_environments_with_it(
    ray_cluster: Any, ray_server: Callable[..., Server], side_dir: Path
) -> None:
    server = ray_server()
    lam = server.client()
    worker = next(iter(ray_cluster.worker_nodes))
    nodes = {r["node"] for r in concurrently(lam, side_dir, 2)}
    on_worker = nodes & set(keepwarm_processes(under=worker.all_processes["raylet"][0].process.pid))
    assert len(nodes) == 2 and len(on_worker) == 1
    assert _idle(server) == 2
    ray_cluster.remove_node(worker)
    wait_for(lambda: not any(alive(n) for n in on_worker), timeout=60)
    wait_for(lambda: _idle(server) == 1, timeout=90)  # the server saw the node go
    answers = [call(lam, {})[0] for _ in range(3)]  # none is sent to the lost node
    assert {a["node"] for a in answers} == nodes - on_worker
    assert [a["count"] for a in answers] == [2, 3, 4]  # the survivor, warm
    ray_cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")  # for the module's next test
    ray_cluster.wait_for_nodes()


def _streams(server: Server) -> str:
    return "".join(p.read_text() for p in (server.data_dir / "logs").rglob("*.log"))


def _idle(server: Server) -> int:
    text = urllib.request.urlopen(f"{server.url}/metrics", timeout=30).read().decode()
    found = re.search(r'keepwarm_environments\{function="Fn",state="idle"\} (\d+)', text)
    return int(float(found[1])) if found else 0


def test_killing_the_server_stops_every_environment_on_the_nodes(
    ray_server: Callable[..., Server], side_dir: Path
) -> None:
    before = set(keepwarm_processes(under=os.getpid()))
    server = ray_server()
    concurrently(server.client(), side_dir, 2)
    assert set(keepwarm_processes(under=os.getpid())) - before  # fork servers on the nodes
    server.stop(signal.SIGKILL)
    wait_for(lambda: not set(keepwarm_processes(under=os.getpid())) - before, timeout=60)


def test_the_python_api_runs_on_the_cluster(ray_cluster: Any, tmp_path: Path) -> None:
    code = write_code(tmp_path / "code", {"app.py": APP})
    server = ServerConfig(
        data_dir=tmp_path / "data", backend="ray", ray_address=ray_cluster.address
    )
    functions = [
        FunctionConfig("Fn", "app.handler", code),
        FunctionConfig("Ready", "app.handler", code, provisioned_concurrency=2),
    ]
    with Runtime(functions, server=server) as rt:
        first, second = rt.invoke("Fn"), rt.invoke("Fn")
        ready = rt.environments("Ready")
        provisioned = rt.invoke("Ready")
    assert (first.start_kind, second.start_kind) == ("cold", "warm")
    assert json.loads(second.payload)["count"] == 2
    assert [e["state"] for e in ready] == ["idle", "idle"]  # Init ran on the nodes before traffic
    assert provisioned.start_kind == "provisioned" and provisioned.init_duration_ms is None


def test_layers_reach_the_nodes(ray_cluster: Any, tmp_path: Path) -> None:
    """Each layer travels like the code (unpacked on the node, not read from the server's
    disk) and is merged on the node as locally: the later layer wins."""
    mark = f"WHO = {str(tmp_path)!r}\n"
    first = write_code(tmp_path / "l1", {"python/shared.py": "WHO = 1\n", "python/a.py": ""})
    second = write_code(tmp_path / "l2", {"python/shared.py": mark})
    code = write_code(
        tmp_path / "code",
        {"app.py": "import a, shared\n\ndef handler(e, c):\n    return shared.WHO\n"},
    )
    server = ServerConfig(
        data_dir=tmp_path / "data", backend="ray", ray_address=ray_cluster.address
    )
    fn = FunctionConfig("Layered", "app.handler", code, layer_dirs=(first, second))
    with Runtime([fn], server=server) as rt:
        assert rt.invoke("Layered").json() == str(tmp_path)
        unpacked = [
            p for p in nodes_root().glob("*/code/*/python/shared.py") if p.read_text() == mark
        ]
    assert unpacked
