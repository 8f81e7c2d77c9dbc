"""Spin-waiting (``ServerConfig.spin_us``) is a latency device only: with it on or off, the
same calls give the same environments, results, timeouts and concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from keepwarm import Runtime, ServerConfig
from keepwarm.api import AsyncRuntime
from keepwarm.env.host import SEQUENTIAL_AFTER, EnvHost
from keepwarm.errors import InvalidParameterValue
from tests.helpers import SLEEPY_COUNTER, function


@pytest.mark.parametrize("spin_us", [0, 400])
def test_sequential_calls_reuse_one_environment_and_timeouts_still_fire(
    tmp_path: Path, spin_us: int
) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", spin_us=spin_us)
    fn = function(tmp_path, "count", SLEEPY_COUNTER, timeout_s=1)
    with Runtime([fn], server=server) as rt:
        outs = [rt.invoke("count").json() for _ in range(SEQUENTIAL_AFTER + 20)]
        slow = rt.invoke("count", {"sleep": 0.05}).json()
        late = rt.invoke("count", {"sleep": 5})
    assert [o["n"] for o in outs] == list(range(1, SEQUENTIAL_AFTER + 21))
    assert len({o["pid"] for o in outs}) == 1 and slow["n"] == SEQUENTIAL_AFTER + 21
    assert late.function_error == "Unhandled" and b"Task timed out" in late.payload


def test_concurrent_calls_after_sequential_ones_still_get_separate_environments(
    tmp_path: Path,
) -> None:
    async def main() -> list[int]:
        fn = function(tmp_path, "count", SLEEPY_COUNTER)
        server = ServerConfig(data_dir=tmp_path / "data", spin_us=400)
        async with AsyncRuntime([fn], server=server) as rt:
            for _ in range(SEQUENTIAL_AFTER + 5):
                await rt.invoke("count")
            both = await asyncio.gather(*(rt.invoke("count", {"sleep": 0.2}) for _ in range(2)))
            return [r.json()["pid"] for r in both]

    pids = asyncio.run(main())
    assert len(set(pids)) == 2


def test_sequential_means_no_overlap_lately(tmp_path: Path) -> None:
    host = EnvHost(ServerConfig(data_dir=tmp_path))
    for _ in range(SEQUENTIAL_AFTER + 1):
        host.note_active(+1)
        assert host.active == 1
        host.note_active(-1)
    host.note_active(+1)
    assert host.sequential()
    host.note_active(+1)  # a second one overlaps: no spinning for a while, even alone again
    assert not host.sequential()
    host.note_active(-1)
    assert not host.sequential()


def test_spin_setting_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="spin_us"):
        ServerConfig(data_dir=tmp_path, spin_us=-1)
    monkeypatch.setenv("KEEPWARM_SPIN_US", "fast")
    with pytest.raises(InvalidParameterValue, match="KEEPWARM_SPIN_US"):
        ServerConfig(data_dir=tmp_path)
    monkeypatch.setenv("KEEPWARM_SPIN_US", "0")
    assert ServerConfig(data_dir=tmp_path).spin_us == 0
