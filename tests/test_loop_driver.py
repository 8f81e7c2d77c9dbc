"""``LoopDriver``: blocking calls run the loop on the caller's thread, the background thread
keeps the loop served between calls, and calls from many threads (or from inside another
event loop) all complete."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from keepwarm.loop_driver import GRACE_S, LoopDriver


async def _whoami() -> int:
    await asyncio.sleep(0)
    return threading.get_ident()


@pytest.fixture
def driver() -> LoopDriver:
    d = LoopDriver()
    yield d  # type: ignore[misc]
    d.close()
    assert not d._thread.is_alive()


def test_a_blocking_call_runs_on_the_calling_thread(driver: LoopDriver) -> None:
    me = threading.get_ident()
    assert [driver.call(_whoami()) for _ in range(50)] == [me] * 50


def test_the_loop_is_served_between_calls(driver: LoopDriver) -> None:
    fired = threading.Event()

    async def arm() -> None:
        asyncio.get_running_loop().call_later(GRACE_S * 4, fired.set)

    driver.call(arm())
    assert fired.wait(10)  # nobody called again: the background thread ran the timer
    assert driver.call(_whoami()) == threading.get_ident()  # and handed the loop back


def test_many_threads_at_once_all_complete(driver: LoopDriver) -> None:
    async def slow(i: int) -> int:
        await asyncio.sleep(0.01)
        return i

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: driver.call(slow(i)), range(200)))
    assert got == list(range(200))


def test_errors_reach_the_caller_on_either_path(driver: LoopDriver) -> None:
    async def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        driver.call(boom())

    async def from_a_loop() -> None:
        with pytest.raises(KeyError):
            driver.call(boom())  # inside another running loop: handed over, not driven

    asyncio.run(from_a_loop())


def test_a_call_from_inside_another_loop_is_handed_over(driver: LoopDriver) -> None:
    async def main() -> tuple[int, int]:
        here = threading.get_ident()
        there = driver.call(_whoami())
        awaited = await asyncio.wrap_future(driver.submit(_whoami()))
        assert awaited != here
        return here, there

    here, there = asyncio.run(main())
    assert there != here
