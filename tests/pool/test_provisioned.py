"""Provisioned concurrency stays at its level: an environment retired (max invocations, reuse
chaos) is replaced, one whose process died (timeout, crash) runs Init again, both at once and in
the background, without waiting for a reclaim; a draining or closed pool starts neither.

A ``FakeClock`` that never moves: no reaper runs, so nothing here comes from a reclaim.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from keepwarm import AsyncRuntime, FakeClock, Runtime, ServerConfig, StartKind
from keepwarm.env.environment import LocalEnvironment
from keepwarm.env.state import EnvState
from tests.helpers import function, keepwarm_processes, wait_for

SOURCE = """
import os, signal, time

def handler(event, context):
    if event.get("write"):
        open("/tmp/mark", "w").write(event["write"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    if event.get("hold"):
        while not os.path.exists(event["hold"]):
            time.sleep(0.005)
    mark = open("/tmp/mark").read() if os.path.exists("/tmp/mark") else None
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "pid": os.getpid(), "mark": mark}
"""


def _ready(rt: Runtime, count: int, not_in: Collection[str] = ()) -> list[dict[str, Any]]:
    """Until the function has exactly ``count`` environments, all provisioned and idle (none of
    ``not_in``)."""
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = rt.environments("p")
        return (
            len(found) == count
            and all(e["provisioned"] and e["state"] == "idle" for e in found)
            and not {e["id"] for e in found}.intersection(not_in)
        )

    wait_for(check, timeout=30, what=f"{count} idle provisioned environments")
    return found


def test_retired_provisioned_environments_are_replaced_without_a_reclaim(
    tmp_path: Path, server: ServerConfig
) -> None:
    fn = function(tmp_path, "p", SOURCE, provisioned_concurrency=2, max_invocations_per_env=1)
    with Runtime([fn], server=server, clock=FakeClock()) as rt:
        first = {e["id"] for e in _ready(rt, 2)}
        served = [rt.invoke("p") for _ in range(4)]  # four retirements (two may be on-demand)
        assert served[0].start_kind is StartKind.PROVISIONED
        again = _ready(rt, 2, not_in=first | {r.env_id for r in served})
        results = [rt.invoke("p"), rt.invoke("p")]
    assert [r.start_kind for r in results] == [StartKind.PROVISIONED] * 2
    assert {r.env_id for r in results} == {e["id"] for e in again}
    assert all(r.json()["init"] == "provisioned-concurrency" for r in results)


def test_a_provisioned_environment_whose_call_timed_out_runs_init_again(
    tmp_path: Path, server: ServerConfig
) -> None:
    """The same environment (its /tmp kept, as after any reset), initialised again at once: the
    next call is a provisioned start, not a cold one that re-runs Init inside its timeout."""
    fn = function(tmp_path, "p", SOURCE, provisioned_concurrency=1, timeout_s=1)
    with Runtime([fn], server=server, clock=FakeClock()) as rt:
        (env,) = _ready(rt, 1)
        timed_out = rt.invoke("p", {"write": "kept", "sleep": 30})
        assert timed_out.function_error is not None and timed_out.env_id == env["id"]
        (again,) = _ready(rt, 1)
        after = rt.invoke("p")
    assert again["id"] == env["id"] and again["pid"] != env["pid"]
    assert after.start_kind is StartKind.PROVISIONED and after.env_id == env["id"]
    assert after.json()["mark"] == "kept"


def test_a_provisioned_environment_that_crashed_runs_init_again(
    tmp_path: Path, server: ServerConfig
) -> None:
    """In a call, and while idle after serving; one that dies again before serving since that
    Init waits for its next call (a runtime exiting of its own accord is not restarted for
    ever)."""
    fn = function(tmp_path, "p", SOURCE, provisioned_concurrency=1)
    with Runtime([fn], server=server, clock=FakeClock()) as rt:
        _ready(rt, 1)
        crashed = rt.invoke("p", {"kill": True})
        assert crashed.function_error is not None
        (env,) = _ready(rt, 1)
        assert rt.invoke("p").start_kind is StartKind.PROVISIONED
        pid = _ready(rt, 1)[0]["pid"]
        os.kill(pid, signal.SIGKILL)  # idle, after serving: Init again
        wait_for(lambda: rt.environments("p")[0]["pid"] not in (None, pid), what="a new process")
        (again,) = _ready(rt, 1)
        os.kill(again["pid"], signal.SIGKILL)  # not served since that Init: left to its next call
        wait_for(lambda: rt.environments("p")[0]["state"] == "reset", what="the reset")
        after = rt.invoke("p")
    assert again["id"] == env["id"]
    assert after.start_kind is StartKind.COLD and after.env_id == env["id"]


def _recorder(seen: list[tuple[str, int, EnvState]]) -> Any:
    def listener(env: LocalEnvironment, old: EnvState, new: EnvState) -> None:
        seen.append((env.id, env.config.memory_mb, new))

    return listener


@pytest.mark.parametrize("moment", ["retired", "stopping", "initializing"])
def test_a_closing_runtime_starts_no_replacement(
    tmp_path: Path, server: ServerConfig, moment: str
) -> None:
    """Two provisioned environments retire, and the runtime closes before their replacements
    are created, after, or during their Init: nothing is left running, and every environment
    ever created ended."""
    seen: list[tuple[str, int, EnvState]] = []
    before = set(keepwarm_processes(under=os.getpid()))

    async def main() -> None:
        fn = function(tmp_path, "p", SOURCE, provisioned_concurrency=2, reuse="never")
        rt = AsyncRuntime([fn], server=server, clock=FakeClock(), listener=_recorder(seen))
        await rt.start()
        try:
            await asyncio.gather(rt.invoke("p"), rt.invoke("p"))
            if moment == "stopping":
                await asyncio.sleep(0)  # the retired ones stop: replacements are due
            elif moment == "initializing":
                for _ in range(30_000):  # 30 s
                    if any(s is EnvState.INITIALIZING for _, _, s in seen[-2:]):
                        break
                    await asyncio.sleep(0.001)
        finally:
            await rt.close()

    asyncio.run(main())
    last: dict[str, EnvState] = {env_id: state for env_id, _, state in seen}
    assert len(last) >= 2 and set(last.values()) == {EnvState.DEAD}
    if moment == "initializing":
        assert len(last) > 2  # a replacement was made, and stopped
    wait_for(
        lambda: not set(keepwarm_processes(under=os.getpid())) - before,
        timeout=15,
        what="the runtime's processes to exit",
    )


def test_a_draining_deployment_starts_no_replacement(
    tmp_path: Path, server: ServerConfig, side_dir: Path
) -> None:
    """Its provisioned environment retires after the redeploy: the new deployment has its own,
    and the old one starts none."""
    seen: list[tuple[str, int, EnvState]] = []
    hold = side_dir / "release"

    async def main() -> None:
        fn = function(tmp_path, "p", SOURCE, provisioned_concurrency=1, reuse="never")
        clock = FakeClock()
        async with AsyncRuntime([fn], server=server, clock=clock, listener=_recorder(seen)) as rt:
            old = rt.pool("p")
            call = asyncio.ensure_future(rt.invoke("p", {"hold": str(hold)}))
            while rt.router.account_inflight == 0:
                await asyncio.sleep(0.01)
            await rt.add(fn.with_changes(memory_mb=256))
            hold.touch()
            assert (await call).start_kind is StartKind.PROVISIONED
            await asyncio.wait_for(old.drained(), 60)
            await rt.router.settled()
            assert [e.state for e in rt.pool("p").envs.values()] == [EnvState.IDLE]

    asyncio.run(main())
    created = {(env_id, memory) for env_id, memory, state in seen if state is EnvState.INITIALIZING}
    assert sorted(memory for _, memory in created) == [128, 256]
