"""Log streams on disk: platform lines held for one write on quick invocations, but never held
back from someone tailing the stream while an invocation runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from keepwarm import ServerConfig
from keepwarm.api import AsyncRuntime
from keepwarm.observe.logs import FLUSH_AFTER_S, HeldLines, LogStream
from tests.helpers import function

SLOW = """
import time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    else:
        print("said something")
    return "done"
"""


def test_start_is_on_disk_while_a_quiet_invocation_still_runs(tmp_path: Path) -> None:
    async def main() -> tuple[bool, str]:
        fn = function(tmp_path, "slow", SLOW, timeout_s=30)
        async with AsyncRuntime([fn], server=ServerConfig(data_dir=tmp_path / "d")) as rt:
            await rt.invoke("slow")  # warm, and the stream file exists
            path = Path(next(iter(rt.pool("slow").envs.values())).stream.path)
            before = path.read_text()
            task = asyncio.ensure_future(rt.invoke("slow", {"sleep": 3}))
            for _ in range(2000):
                if path.read_text().count("START RequestId") > before.count("START RequestId"):
                    break
                await asyncio.sleep(0.005)
            running = not task.done()
            await task
            return running, path.read_text()

    running, text = asyncio.run(main())
    assert running  # START was readable before the invocation ended
    lines = [line.split(" ", 1)[0] for line in text.splitlines() if line]
    assert lines == ["INIT_START", "START", "said", "END", "REPORT", "START", "END", "REPORT"]


def test_held_lines_reach_the_file_a_moment_later_or_when_flushed(tmp_path: Path) -> None:
    async def main() -> list[str]:
        stream = LogStream(tmp_path, "fn", "$LATEST")
        path = Path(stream.path)
        held = HeldLines()
        stream.begin_capture()
        stream.line("START RequestId: a Version: $LATEST\n")
        held.flush_soon(stream)
        seen = [path.read_text()]  # still held
        for _ in range(1000):
            if path.read_text():
                break
            await asyncio.sleep(FLUSH_AFTER_S / 4)
        seen.append(path.read_text())
        stream.line("END RequestId: a\n")
        held.flush_soon(stream)
        held.flush()  # at once, and the timer is gone
        seen.append(path.read_text())
        stream.close()
        held.flush_soon(stream)  # a closed stream is harmless
        held.flush()
        return seen

    held, flushed, ended = asyncio.run(main())
    assert held == ""
    assert flushed == "START RequestId: a Version: $LATEST\n"
    assert ended == flushed + "END RequestId: a\n"


NO_NEWLINE = """
import sys
def handler(event, context):
    sys.stdout.write("progress: 100%")
    return "done"
"""


def test_output_without_a_final_newline_does_not_run_into_end(tmp_path: Path) -> None:
    async def main() -> tuple[str, str]:
        fn = function(tmp_path, "noeol", NO_NEWLINE)
        async with AsyncRuntime([fn], server=ServerConfig(data_dir=tmp_path / "d")) as rt:
            result = await rt.invoke("noeol")
            await rt.invoke("noeol")
            path = Path(next(iter(rt.pool("noeol").envs.values())).stream.path)
            return result.logs, path.read_text()

    captured, on_disk = asyncio.run(main())
    assert "progress: 100%\nEND RequestId: " in captured
    assert on_disk.count("progress: 100%\nEND RequestId: ") == 2
    assert all(
        line.startswith(("INIT_START", "START", "END", "REPORT", "progress"))
        for line in on_disk.splitlines()
    )
