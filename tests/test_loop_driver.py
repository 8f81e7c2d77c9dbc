"""``LoopDriver``: blocking calls run the loop on the caller's thread, the background thread
keeps the loop served between calls, and calls from many threads (or from inside another
event loop) all complete."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


_INTERRUPTED_CALL = """
from keepwarm.loop_driver import LoopDriver

async def interrupted():
    raise KeyboardInterrupt

driver = LoopDriver()
try:
    driver.call(interrupted())
except KeyboardInterrupt:
    print("interrupted", flush=True)
driver.close()
"""


def test_a_base_exception_reaches_the_caller_once() -> None:
    """A call that raises KeyboardInterrupt itself: the caller gets it, and asyncio does not
    print it again (at exit) as a task exception nobody retrieved."""
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_CALL], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "interrupted\n", "")


def test_a_call_from_inside_another_loop_is_handed_over(driver: LoopDriver) -> None:
    async def main() -> tuple[int, int]:
        here = threading.get_ident()
        there = driver.call(_whoami())
        awaited = await asyncio.wrap_future(driver.submit(_whoami()))
        assert awaited != here
        return here, there

    here, there = asyncio.run(main())
    assert there != here


def test_runtime_from_many_threads_with_pauses_answers_every_call(tmp_path: Path) -> None:
    """Blocking calls, calls from other event loops and pauses long enough for the background
    thread to take the loop over, all mixed: every call gets its own answer."""
    from keepwarm import Runtime, ServerConfig
    from tests.helpers import function

    fn = function(tmp_path, "f", "import time\ndef handler(e, c):\n    return e['i']\n")
    errors: list[str] = []

    def worker(rt: Runtime, k: int) -> int:
        rnd, n = random.Random(k), 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            i = rnd.randrange(1 << 30)
            if rnd.random() < 0.1:
                got = asyncio.run(rt.ainvoke("f", {"i": i})).json()
            else:
                got = rt.invoke("f", {"i": i}).json()
            if got != i:
                errors.append(f"{got} != {i}")
            n += 1
            if rnd.random() < 0.05:
                time.sleep(rnd.choice([0.001, GRACE_S * 2]))
        return n

    with Runtime([fn], server=ServerConfig(data_dir=tmp_path / "d")) as rt:
        with ThreadPoolExecutor(6) as pool:
            counts = list(pool.map(lambda k: worker(rt, k), range(6)))
        envs = rt.environments("f")
    assert errors == [] and min(counts) > 0
    assert 1 <= len(envs) <= 6
