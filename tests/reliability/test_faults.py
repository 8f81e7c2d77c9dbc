"""Fault injection: 1,000 invocations mixing every way a function can fail (design §5, issue 8).

Through the Python API, with concurrency: successes, handler exceptions, ``sys.exit``,
``os._exit``, segfaults, OOM kills, timeouts, init errors, missing handlers, results that are
not JSON, responses over 6 MB, output without end, fork bombs, and children left behind. Each
gets Lambda's error shape; afterwards no process is left, the server holds no more file
descriptors than before, and its memory stayed bounded. The figures go to docs/reliability.md
(printed with ``-s``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest

from keepwarm import AsyncRuntime, FunctionConfig, ServerConfig
from keepwarm.invocation import InvocationResult
from keepwarm.observe import logs
from tests.helpers import alive, function, wait_for, write_code

TOTAL = 1000
CONCURRENCY = 12
SEED = 20240508

FAULTY = """
import ctypes, os, subprocess, sys, time

def handler(event, context):
    how = event["how"]
    if how == "ok":
        return {"ok": event["n"]}
    if how == "raise":
        raise ValueError("boom %d" % event["n"])
    if how == "sys.exit":
        sys.exit(3)
    if how == "os._exit":
        os._exit(5)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "oom":
        hog = []
        while True:
            hog.append(bytearray(16 * 1024 * 1024))
    if how == "timeout":
        time.sleep(30)
    if how == "nonjson":
        return {"value": object()}
    if how == "big":
        return "x" * (6 * 1024 * 1024 + 100)
    if how == "flood":
        line = "y" * 1023 + "\\n"
        while True:
            sys.stdout.write(line)
    if how == "forkbomb":
        made = 0
        while True:
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            made += 1
        print("forked", made, flush=True)
        time.sleep(30)  # hold them: the timeout must take every one of them down
    if how == "leave":
        subprocess.Popen(["sleep", "300"])
        subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300"], start_new_session=True)
        return {"left": True}
    raise AssertionError(how)
"""

# kind: (weight, function, expected errorType or None for success)
MIX: dict[str, tuple[int, str, str | None]] = {
    "ok": (340, "faulty", None),
    "raise": (120, "faulty", "ValueError"),
    "sys.exit": (50, "faulty", "Runtime.ExitError"),
    "os._exit": (50, "faulty", "Runtime.ExitError"),
    "segfault": (50, "faulty", "Runtime.ExitError"),
    "oom": (30, "faulty", "Runtime.OutOfMemory"),
    "timeout": (30, "faulty", "Sandbox.Timedout"),
    "init_error": (50, "broken_init", "ConfigMissing"),
    "not_found": (50, "no_handler", "Runtime.HandlerNotFound"),
    "nonjson": (60, "faulty", "Runtime.MarshalError"),
    "big": (40, "faulty", "Function.ResponseSizeTooLarge"),
    "flood": (10, "faulty", "Sandbox.Timedout"),
    "forkbomb": (10, "bomb", "Sandbox.Timedout"),
    "leave": (110, "faulty", None),
}
MESSAGES = {
    "sys.exit": "Runtime exited with error: exit status 3",
    "os._exit": "Runtime exited with error: exit status 5",
    "segfault": "Runtime exited with error: signal: segmentation fault",
    "oom": "Runtime exited with error: signal: killed",
    "timeout": "Task timed out after 3.00 seconds",
    "init_error": "no DB_URL",
    "not_found": "Handler 'nothere' missing on module 'app'",
    "big": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
}


def _functions(tmp: Path) -> list[FunctionConfig]:
    broken = write_code(
        tmp / "broken",
        {"app.py": "class ConfigMissing(Exception):\n    pass\nraise ConfigMissing('no DB_URL')\n"},
    )
    missing = write_code(tmp / "missing", {"app.py": "x = 1\n"})
    return [
        # 3 s, not 1: after a crash the next call re-runs Init inside its own timeout, and on a
        # loaded CI machine that Init alone once took a segfault past 1 s (Sandbox.Timedout).
        function(tmp, "faulty", FAULTY, timeout_s=3, memory_mb=128),
        # Memory enough that the process limit (1,024), not the memory limit, stops the bomb.
        function(tmp, "bomb", FAULTY, timeout_s=2, memory_mb=1536),
        FunctionConfig(name="broken_init", handler="app.handler", code_dir=broken, timeout_s=5),
        FunctionConfig(name="no_handler", handler="app.nothere", code_dir=missing, timeout_s=5),
    ]


def _plan() -> list[str]:
    kinds = [k for k, (weight, _, _) in MIX.items() for _ in range(weight)]
    assert len(kinds) == TOTAL
    random.Random(SEED).shuffle(kinds)
    return kinds


def _check(kind: str, n: int, result: InvocationResult) -> None:
    """Lambda's shape for this kind of outcome (contract §2.5, §4.3)."""
    expected = MIX[kind][2]
    if expected is None:
        assert result.function_error is None, (kind, result.payload[:300])
        assert result.json() == ({"ok": n} if kind == "ok" else {"left": True})
        return
    assert result.function_error == "Unhandled", (kind, result.payload[:300])
    body = json.loads(result.payload)
    assert body["errorType"] == expected, (kind, body)
    assert isinstance(body["errorMessage"], str) and body["errorMessage"], (kind, body)
    if kind in MESSAGES:
        assert body["errorMessage"].endswith(MESSAGES[kind]), (kind, body)
    if kind == "raise":
        assert body["errorMessage"] == f"boom {n}" and body["requestId"] == result.request_id
    assert "REPORT RequestId: " + result.request_id in result.logs


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _descendants() -> set[int]:
    from kw_server import descendants

    return descendants(os.getpid())


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_thousand_faults_each_get_lambdas_shape_and_leave_nothing_behind(
    tmp_path: Path,
) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", keep_alive_s=600)
    kinds = _plan()
    outcomes: collections.Counter[str] = collections.Counter()
    fds_before = _fds()
    descendants_before = _descendants()
    stats: dict[str, Any] = {}
    watched: set[int] = set()
    bombs: list[int] = []

    async def main() -> None:
        async with AsyncRuntime(_functions(tmp_path), server=server) as rt:
            for _ in range(3):  # warm-up: the allocator and the import caches settle
                await asyncio.gather(
                    *(rt.invoke("faulty", {"how": "ok", "n": i}) for i in range(4))
                )
            stats["rss_warm"] = _rss_mb()
            gate = asyncio.Semaphore(CONCURRENCY)
            peak = [0.0]

            async def one(n: int, kind: str) -> None:
                async with gate:
                    result = await rt.invoke(MIX[kind][1], {"how": kind, "n": n})
                _check(kind, n, result)
                if kind == "flood":  # capped in memory; REPORT still there (checked above)
                    assert len(result.logs) < logs.CAPTURE_LIMIT + 4096
                    capped = "[keepwarm] log output truncated" in result.logs
                    assert capped or len(result.logs) < logs.CAPTURE_LIMIT
                if kind == "forkbomb":
                    forked = re.search(r"^forked (\d+)$", result.logs, re.MULTILINE)
                    if forked:
                        bombs.append(int(forked[1]))
                outcomes[kind] += 1
                peak[0] = max(peak[0], _rss_mb())

            t0 = time.monotonic()
            await asyncio.gather(*(one(n, kind) for n, kind in enumerate(kinds)))
            stats["seconds"] = time.monotonic() - t0
            stats["rss_peak"], stats["rss_after"] = peak[0], _rss_mb()
            seen = _descendants() - descendants_before
            stats["processes_while_open"] = len(seen)
            watched.update(seen)  # every one of them must be gone once the runtime closes

    asyncio.run(main())
    wait_for(
        lambda: not [p for p in watched if alive(p)],
        timeout=30,
        what="every environment process and every child it left to be gone",
    )
    leftover = (_descendants() - descendants_before) | {p for p in watched if alive(p)}
    stats["fds_before"], stats["fds_after"] = fds_before, _fds()
    stats["fork_bomb_children"] = bombs
    stats["log_bytes"] = sum(p.stat().st_size for p in (tmp_path / "data" / "logs").rglob("*.log"))
    print(f"\nFAULTS {sum(outcomes.values())} invocations: {dict(sorted(outcomes.items()))}")
    print(f"FAULTS figures: {stats}")

    assert sum(outcomes.values()) == TOTAL
    assert outcomes == collections.Counter({k: w for k, (w, _, _) in MIX.items()})
    assert not leftover
    assert all(n < 1024 for n in bombs), bombs  # the per-environment process limit held
    assert stats["fds_after"] <= stats["fds_before"]
    assert stats["rss_peak"] - stats["rss_warm"] < 150, stats  # 20 floods of GBs: stays small
    # The disk cap: at most DISK_LIMIT of output per flood, whatever the function wrote.
    assert stats["log_bytes"] < (MIX["flood"][0] + 2) * (logs.DISK_LIMIT + 65536), stats
    assert not _own_cgroups()  # and no cgroup directory left behind either


def _own_cgroups() -> list[Path]:
    """This process's environment cgroups still on the machine (memory and pids hierarchies)."""
    root = Path("/sys/fs/cgroup")
    own = f"keepwarm-{os.getpid()}"
    found = list((root / "pids").glob(own)) if (root / "pids").is_dir() else []
    memory = Path(os.sep.join(["/sys/fs/cgroup/memory", *_memory_path().split("/")]))
    return found + list(memory.glob(own))


def _memory_path() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path
    return "/"


def test_a_fork_bomb_stops_at_the_per_environment_process_limit(tmp_path: Path) -> None:
    """1,024 processes per environment (Lambda's limit): the pids cgroup, or RLIMIT_NPROC."""
    server = ServerConfig(data_dir=tmp_path / "data")
    bomb = function(tmp_path, "bomb", FAULTY, timeout_s=8, memory_mb=1536)

    async def main() -> tuple[InvocationResult, InvocationResult]:
        async with AsyncRuntime([bomb], server=server) as rt:
            first = await rt.invoke("bomb", {"how": "forkbomb", "n": 0})
            return first, await rt.invoke("bomb", {"how": "ok", "n": 1})

    before = _descendants()
    result, after = asyncio.run(main())
    forked = re.search(r"^forked (\d+)$", result.logs, re.MULTILINE)
    assert forked is not None, result.logs[-2000:]
    assert 900 <= int(forked[1]) <= 1023  # the runtime itself is the 1,024th
    assert result.error_type == "Sandbox.Timedout"
    assert after.json() == {"ok": 1}  # the timeout took all of them down; a fresh Init
    assert not (_descendants() - before)
    assert not _own_cgroups()


def test_output_without_end_is_capped_in_memory_and_on_disk(tmp_path: Path) -> None:
    """One flood alone (so it surely outruns both caps): a marker, bounded memory and disk."""
    server = ServerConfig(data_dir=tmp_path / "data")

    async def main() -> list[InvocationResult]:
        async with AsyncRuntime(_functions(tmp_path)[:1], server=server) as rt:
            flood = await rt.invoke("faulty", {"how": "flood", "n": 0})
            after = await rt.invoke("faulty", {"how": "ok", "n": 1})
            return [flood, after]

    flood, after = asyncio.run(main())
    assert flood.error_type == "Sandbox.Timedout"
    assert logs.CAPTURE_LIMIT < len(flood.logs) < logs.CAPTURE_LIMIT + 4096
    marker = "[keepwarm] log output truncated: this invocation wrote more than 1048576 bytes"
    assert marker in flood.logs
    assert flood.logs.rstrip().splitlines()[-1].startswith("REPORT RequestId: " + flood.request_id)
    assert after.json() == {"ok": 1} and "truncated" not in after.logs
    (stream,) = (tmp_path / "data" / "logs").rglob("*.log")
    text = stream.read_bytes()
    assert logs.DISK_LIMIT < len(text) < logs.DISK_LIMIT + 65536
    assert b"the rest is not in this log stream" in text
    assert (
        text.rstrip().splitlines()[-1].startswith(b"REPORT RequestId: " + after.request_id.encode())
    )
