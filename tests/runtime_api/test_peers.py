"""An environment's Runtime API answers its own processes only: another function that finds
the port on the shared loopback cannot take its invocations or answer them."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig
from keepwarm.env.channel import RuntimeApiChannel
from tests.helpers import function, write_code
from tests.runtimes.node.conftest import node_function

ATTACKER = """
import socket

def handler(event, context):
    sock = socket.create_connection(("127.0.0.1", event["port"]), timeout=3)
    sock.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    try:
        data = sock.recv(200)
    except ConnectionResetError:
        return "refused"
    except socket.timeout:
        return "parked"  # accepted and waiting for the victim's next event
    return "refused" if not data else data.decode(errors="replace")
"""
VICTIM = "exports.handler = async (event) => ({ secret: event.secret });\n"


@pytest.mark.parametrize("run_as", ["sandbox", "root"])
def test_another_function_cannot_use_an_environment_s_runtime_api(
    tmp_path: Path, run_as: str
) -> None:
    victim = node_function(tmp_path, "victim", {"index.js": VICTIM})
    attacker = function(tmp_path, "attacker", ATTACKER, timeout_s=10)
    server = ServerConfig(data_dir=tmp_path / "data", run_as=run_as)
    with Runtime([victim, attacker], server=server) as rt:
        assert rt.invoke("victim", {"secret": "warm-up"}).json() == {"secret": "warm-up"}
        [env] = rt._async.router.pools[("victim", "$LATEST")].envs.values()
        channel = env.process.channel
        assert isinstance(channel, RuntimeApiChannel)
        port = int(channel.address.rsplit(":", 1)[1])
        assert rt.invoke("attacker", {"port": port}).json() == "refused"
        result = rt.invoke("victim", {"secret": "4111-1111-1111-1111"})
        assert result.json() == {"secret": "4111-1111-1111-1111"}
        assert result.start_kind.value == "warm"


BOOT = """
import http.client, json, os, socket, sys

host = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = "/2018-06-01/runtime/invocation"


class V6(http.client.HTTPConnection):
    \"\"\"An IPv6 socket to ::ffff:127.0.0.1, as the JVM connects by default.\"\"\"

    def connect(self):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.connect(("::ffff:" + self.host, self.port))


Connection = V6 if sys.argv[1:] == ["v6"] else http.client.HTTPConnection
while True:
    conn = Connection(host)  # a new connection for every request, as curl
    conn.request("GET", base + "/next")
    answer = conn.getresponse()
    event, rid = answer.read(), answer.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.close()
    conn = Connection(host)
    conn.request("POST", f"{base}/{rid}/response", json.dumps({"echo": json.loads(event)}))
    conn.getresponse().read()
    conn.close()
"""


@pytest.mark.parametrize("family", ["v4", "v6"])
def test_a_runtime_that_connects_anew_for_every_request_is_still_its_own(
    tmp_path: Path, family: str
) -> None:
    """Also over an IPv6 socket to the v4-mapped loopback, which the JVM uses by default."""
    bootstrap = f'#!/bin/sh\nexec python3 "$LAMBDA_TASK_ROOT/boot.py" {family}\n'
    code = write_code(tmp_path / "custom", {"bootstrap": bootstrap, "boot.py": BOOT})
    (code / "bootstrap").chmod(0o755)
    fn = FunctionConfig(name="anew", handler="x", code_dir=code, runtime="provided.al2023")
    for run_as in ("sandbox", "root"):
        server = ServerConfig(data_dir=tmp_path / f"data-{run_as}", run_as=run_as)
        with Runtime([fn], server=server) as rt:
            assert [rt.invoke("anew", {"n": i}).json() for i in range(3)] == [
                {"echo": {"n": i}} for i in range(3)
            ]
