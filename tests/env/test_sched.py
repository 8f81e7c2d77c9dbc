"""keepwarm's processes run under SCHED_BATCH by default (``normal`` on request): the server of
``keepwarm serve`` and every environment, whatever its runtime, read from the kernel."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, ServerConfig
from keepwarm.api import AsyncRuntime
from keepwarm.errors import InvalidParameterValue
from tests.helpers import function, write_code
from tests.lambda_api.kw_server import Server

POLICY = """
def handler(event, context):
    with open("/proc/self/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[38])  # field 41 of proc(5): the scheduling policy
"""
NODE_POLICY = """
const fs = require('fs');
exports.handler = async () => {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38], 10);
};
"""
NORMAL, BATCH = 0, 3  # SCHED_OTHER, SCHED_BATCH


def _policy(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[38])


def _environment_policy(tmp_path: Path, server: ServerConfig, node: bool = False) -> int:
    fn = function(tmp_path, "policy", POLICY)
    if node:
        code = write_code(tmp_path / "node-policy", {"index.js": NODE_POLICY})
        fn = FunctionConfig("policy", "index.handler", code, runtime="nodejs20.x", timeout_s=10)

    async def main() -> int:
        async with AsyncRuntime([fn], server=server) as rt:
            result = await rt.invoke("policy")
            return int(result.json())

    return asyncio.run(main())


def test_environments_run_under_batch_by_default(tmp_path: Path, server: ServerConfig) -> None:
    assert dataclasses.replace(server).sched_policy == "batch"
    assert _environment_policy(tmp_path, server) == BATCH
    assert os.sched_getscheduler(0) == NORMAL  # the Python API never changes its caller


def test_normal_policy_on_request(tmp_path: Path, server: ServerConfig) -> None:
    normal = dataclasses.replace(server, sched_policy="normal")
    assert _environment_policy(tmp_path, normal) == NORMAL


@pytest.mark.parametrize(("policy", "expected"), [("batch", BATCH), ("normal", NORMAL)])
def test_a_node_environment_keeps_the_policy_through_exec(
    tmp_path: Path, server: ServerConfig, policy: str, expected: int
) -> None:
    config = dataclasses.replace(server, sched_policy=policy)
    assert _environment_policy(tmp_path, config, node=True) == expected


def test_the_policy_comes_from_the_environment_and_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEEPWARM_SCHED_POLICY", "normal")
    assert ServerConfig().sched_policy == "normal"
    monkeypatch.setenv("KEEPWARM_SCHED_POLICY", "fifo")
    with pytest.raises(InvalidParameterValue, match="batch or normal"):
        ServerConfig()


@pytest.mark.parametrize(("setting", "expected"), [(None, BATCH), ("normal", NORMAL)])
def test_keepwarm_serve_runs_under_the_policy(
    tmp_path: Path, setting: str | None, expected: int
) -> None:
    env = {"KEEPWARM_SCHED_POLICY": setting} if setting else {}
    served = Server(tmp_path / "data", env=env).start()
    try:
        assert served.proc is not None
        assert _policy(served.proc.pid) == expected
    finally:
        served.stop()
