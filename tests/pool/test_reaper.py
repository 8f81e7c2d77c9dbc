"""The real reaper: its looks fall on the simulator's grid (multiples of the interval from the
runtime's start) however long a reclaim takes, and its interval follows the smallest keep-alive
among the functions.

Its looks are recorded by wrapping ``Router.reclaim`` (the reaper's collaborator), in real time;
the margins are a tenth of a second or more, far above the event loop's wake-up delay.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from keepwarm import AsyncRuntime, FakeClock, ServerConfig
from keepwarm.pool import scheduler
from keepwarm.pool.router import Router
from tests.helpers import function

HANDLER = "def handler(event, context):\n    return 1\n"


def _record(router: Router, looks: list[float], slow_s: float = 0.0) -> None:
    """Note the time of each look; with ``slow_s``, each reclaim takes that much longer."""
    reclaim = router.reclaim

    async def recorded() -> int:
        looks.append(time.monotonic())
        await asyncio.sleep(slow_s)
        return await reclaim()

    router.reclaim = recorded  # type: ignore[method-assign]


def test_a_slow_reclaim_skips_ticks_and_keeps_to_the_grid(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Every 0.5 s (a 2 s keep-alive), each reclaim taking 0.75 s: the reaper looks at 0.5,
    1.5, 2.5 ... (the tick at 1.0 skipped, the grid kept); one that slept the interval after
    each reclaim would look at 0.5, 1.75, 3.0 ..."""
    looks: list[float] = []

    async def main() -> None:
        fn = function(tmp_path, "f", HANDLER, keep_alive_s=2.0)
        async with AsyncRuntime([fn], server=server) as rt:
            assert rt.router.reap_interval() == 0.5
            _record(rt.router, looks, slow_s=0.75)
            while len(looks) < 4:
                await asyncio.sleep(0.05)

    asyncio.run(main())
    gaps = [b - a for a, b in itertools.pairwise(looks)]
    assert all(abs(gap - 1.0) < 0.2 for gap in gaps), gaps


def test_the_interval_follows_the_smallest_keep_alive(tmp_path: Path, server: ServerConfig) -> None:
    async def main() -> None:
        slow = function(tmp_path, "slow", HANDLER, keep_alive_s=10.0)
        unset = function(tmp_path, "unset", HANDLER)  # the server's 600 s
        async with AsyncRuntime([slow, unset], server=server, clock=FakeClock()) as rt:
            assert rt.router.reap_interval() == 1.0
            await rt.add(function(tmp_path, "quick", HANDLER, keep_alive_s=1.0))
            assert rt.router.reap_interval() == 0.25 == scheduler.reap_interval(1.0)
            await rt.router.remove("quick")
            assert rt.router.reap_interval() == 1.0

    asyncio.run(main())
    quick = ServerConfig(data_dir=tmp_path / "d2", keep_alive_s=0.2)

    async def alone() -> None:
        async with AsyncRuntime(server=quick, clock=FakeClock()) as rt:
            assert rt.router.reap_interval() == 0.05  # no function: the server's keep-alive

    asyncio.run(alone())


def test_the_reaper_looks_as_often_as_a_function_s_own_keep_alive_needs(
    tmp_path: Path, server: ServerConfig
) -> None:
    """A 0.2 s keep-alive on a server whose own is 600 s: a look every 50 ms, not every 1 s."""
    looks: list[float] = []
    started: list[float] = []

    async def main() -> None:
        fn = function(tmp_path, "f", HANDLER, keep_alive_s=0.2)
        async with AsyncRuntime([fn], server=server) as rt:
            _record(rt.router, looks)
            started.append(time.monotonic())
            await asyncio.sleep(0.6)
            assert (await rt.invoke("f")).ok
            env = rt.pool("f").envs
            deadline = time.monotonic() + 30
            while env and time.monotonic() < deadline:  # reclaimed by the reaper alone
                await asyncio.sleep(0.01)
            assert not env

    asyncio.run(main())
    early = [t - started[0] for t in looks if t < started[0] + 0.6]
    assert len(early) >= 4, early  # about 12; at 1 s, none
