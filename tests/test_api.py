"""The Python API end to end: real environments, real processes."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
from pathlib import Path

import pytest

from keepwarm import AsyncRuntime, FakeClock, FunctionNotFound, Runtime, ServerConfig, StartKind
from keepwarm.errors import BadFunction, KeepwarmError, RequestTooLarge
from tests.helpers import (
    REPORT_RE,
    TOO_LITTLE_MEMORY,
    alive,
    function,
    template_with_a_broken_function,
)

GREETING = """
greeting = "hello"

def handler(event, context):
    global greeting
    current = greeting
    greeting = "it's me"
    print(current)
    return current
"""

COUNTER = """
count = 0

def handler(event, context):
    global count
    count += 1
    return count
"""


def test_global_changes_between_warm_invocations(tmp_path: Path, server: ServerConfig) -> None:
    with Runtime([function(tmp_path, "greet", GREETING)], server=server) as rt:
        first, second = rt.invoke("greet"), rt.invoke("greet")
    assert (first.json(), second.json()) == ("hello", "it's me")
    assert (first.start_kind, second.start_kind) == (StartKind.COLD, StartKind.WARM)
    assert first.env_id == second.env_id
    assert "hello" in first.logs and "it's me" in second.logs


def test_counter_reaches_ten_in_one_warm_environment(tmp_path: Path, server: ServerConfig) -> None:
    with Runtime([function(tmp_path, "count", COUNTER)], server=server) as rt:
        results = [rt.invoke("count") for _ in range(10)]
    assert [r.json() for r in results] == list(range(1, 11))
    assert len({r.env_id for r in results}) == 1


def test_cold_start_after_keep_alive_expiry(tmp_path: Path, tmp_path_factory: object) -> None:
    clock = FakeClock()
    server = ServerConfig(data_dir=tmp_path / "data", keep_alive_s=600)
    with Runtime([function(tmp_path, "greet", GREETING)], server=server, clock=clock) as rt:
        first = rt.invoke("greet")
        clock.advance(599)
        assert rt.reclaim() == 0
        assert rt.invoke("greet").start_kind is StartKind.WARM
        clock.advance(600)
        assert rt.reclaim() == 1
        again = rt.invoke("greet")
    assert again.start_kind is StartKind.COLD and again.json() == "hello"
    assert again.env_id != first.env_id


def test_max_lifetime_reclaims_a_recently_used_environment(tmp_path: Path) -> None:
    clock = FakeClock()
    server = ServerConfig(data_dir=tmp_path / "data", keep_alive_s=10_000, max_lifetime_s=7200)
    with Runtime([function(tmp_path, "count", COUNTER)], server=server, clock=clock) as rt:
        for _ in range(14):
            last = rt.invoke("count")
            assert rt.reclaim() == 0
            clock.advance(500)
        assert last.start_kind is StartKind.WARM and last.json() == 14
        clock.advance(199)
        assert rt.reclaim() == 0
        clock.advance(1)
        assert rt.reclaim() == 1
        assert rt.invoke("count").json() == 1


def test_report_line_format_and_init_duration_only_on_cold(
    tmp_path: Path, server: ServerConfig
) -> None:
    with Runtime([function(tmp_path, "count", COUNTER, memory_mb=256)], server=server) as rt:
        cold, warm = rt.invoke("count"), rt.invoke("count")
    for result, has_init in ((cold, True), (warm, False)):
        match = REPORT_RE.search(result.logs)
        assert match is not None, result.logs
        assert match["id"] == result.request_id
        assert match["m"] == "256"
        assert int(match["b"]) >= 1
        assert 1 <= int(match["u"]) < 256
        assert (match["i"] is not None) is has_init
        lines = result.logs.splitlines()
        assert lines[-1].startswith("REPORT") and lines[-1].endswith("\t")
        assert lines[-2] == f"END RequestId: {result.request_id}"
        assert f"START RequestId: {result.request_id} Version: $LATEST" in lines
    assert cold.logs.startswith("INIT_START Runtime Version: python:3.12")
    assert cold.init_duration_ms is not None and warm.init_duration_ms is None


SLOW_INIT = """
import time
time.sleep(0.2)

def handler(event, context):
    return "ok"
"""


def test_a_cold_start_bills_its_init_and_a_warm_call_does_not(
    tmp_path: Path, server: ServerConfig
) -> None:
    """Lambda bills Init on on-demand cold starts since 2025-08-01 (zip, managed runtimes)."""
    with Runtime([function(tmp_path, "slow", SLOW_INIT)], server=server) as rt:
        cold, warm = rt.invoke("slow"), rt.invoke("slow")
    assert cold.init_duration_ms is not None and cold.init_duration_ms >= 200
    assert cold.billed_ms == math.ceil(cold.duration_ms + cold.init_duration_ms)
    assert warm.billed_ms == math.ceil(warm.duration_ms) < 200
    for result in (cold, warm):
        match = REPORT_RE.search(result.logs)
        assert match is not None and int(match["b"]) == result.billed_ms


def test_log_stream_on_disk_holds_every_invocation_in_order(
    tmp_path: Path, server: ServerConfig
) -> None:
    with Runtime([function(tmp_path, "greet", GREETING)], server=server) as rt:
        a, b = rt.invoke("greet"), rt.invoke("greet")
        [env] = rt.environments("greet")
        text = Path(env["log_path"]).read_text()
    assert env["log_stream"].split("/")[3].startswith("[$LATEST]")
    assert len(env["log_stream"].split("]")[1]) == 32
    assert text.index(a.request_id) < text.index("it's me") < text.index(b.request_id + "\t")
    assert text == a.logs + b.logs


def test_decimal_and_bytes_results(tmp_path: Path, server: ServerConfig) -> None:
    source = """
    from decimal import Decimal

    def handler(event, context):
        if event.get("raw"):
            return b"\\x00\\x01raw"
        return {"price": Decimal("10.25"), "name": "caf\\u00e9", "none": None}
    """
    with Runtime([function(tmp_path, "f", source)], server=server) as rt:
        decoded = rt.invoke("f", {})
        raw = rt.invoke("f", {"raw": True})
    assert decoded.payload == '{"price": 10.25, "name": "café", "none": null}'.encode()
    assert raw.payload == b"\x00\x01raw" and raw.content_type == "application/unknown"


def test_unknown_function_is_not_found(tmp_path: Path, server: ServerConfig) -> None:
    with (
        Runtime([function(tmp_path, "f", COUNTER)], server=server) as rt,
        pytest.raises(FunctionNotFound) as info,
    ):
        rt.invoke("nope")
    assert str(info.value) == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST"
    )


def test_close_leaves_no_process(tmp_path: Path, server: ServerConfig) -> None:
    spawner = """
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])

    def handler(event, context):
        return child.pid
    """
    rt = Runtime(
        [function(tmp_path, "f", spawner), function(tmp_path, "g", COUNTER)], server=server
    )
    with rt:
        grandchild = rt.invoke("f").json()
        rt.invoke("g")
        pids = [e["pid"] for n in ("f", "g") for e in rt.environments(n)]
        zygote = rt._async.host.launcher._proc.pid  # type: ignore[union-attr]
        assert all(alive(p) for p in [*pids, grandchild, zygote])
    assert not any(alive(p) for p in [*pids, grandchild, zygote])


def test_async_api_runs_on_the_callers_loop(tmp_path: Path, server: ServerConfig) -> None:
    async def main() -> list[object]:
        async with AsyncRuntime([function(tmp_path, "count", COUNTER)], server=server) as rt:
            first = await rt.invoke("count")
            second = await rt.invoke("count")
            return [first.json(), second.json(), second.start_kind]

    assert asyncio.run(main()) == [1, 2, StartKind.WARM]


def test_blocking_runtime_offers_ainvoke(tmp_path: Path, server: ServerConfig) -> None:
    with Runtime([function(tmp_path, "count", COUNTER)], server=server) as rt:

        async def twice() -> list[object]:
            a = await rt.ainvoke("count")
            b = await rt.ainvoke("count")
            return [a.json(), b.json()]

        assert asyncio.run(twice()) == [1, 2]


def test_event_reaches_the_handler_as_json(tmp_path: Path, server: ServerConfig) -> None:
    echo = "def handler(event, context):\n    return event\n"
    event = {"a": [1, 2, {"b": None}], "s": "x" * 1000}
    with Runtime([function(tmp_path, "echo", echo)], server=server) as rt:
        assert json.loads(rt.invoke("echo", event).payload) == event


def test_runtime_is_safe_for_concurrent_threads(tmp_path: Path, server: ServerConfig) -> None:
    from concurrent.futures import ThreadPoolExecutor

    echo = "def handler(event, context):\n    return event['i']\n"
    with Runtime([function(tmp_path, "echo", echo)], server=server) as rt:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i: rt.invoke("echo", {"i": i}), range(64)))
        envs = rt.environments("echo")
    assert [r.json() for r in results] == list(range(64))
    assert 1 <= len(envs) <= 8
    assert sum(e["invocations"] for e in envs) == 64


def test_a_function_s_tz_sets_its_local_time(tmp_path: Path, server: ServerConfig) -> None:
    """TZ is not reserved on Lambda; Python must see it (a POSIX rule: no tzdata needed)."""
    clock = (
        "import time\n"
        "def handler(event, context):\n"
        "    return [time.tzname[0], time.strftime('%z')]\n"
    )
    fn = function(tmp_path, "tz", clock, environment={"TZ": "JST-9"})
    with Runtime([fn], server=server) as rt:
        assert rt.invoke("tz").json() == ["JST", "+0900"]


def test_a_template_function_answers_to_its_logical_id_too(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(e, c):\n    return 'named'\n")
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Named:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      FunctionName: my-real-name\n      Runtime: python3.12\n"
        "      Handler: app.handler\n      CodeUri: src/\n"
    )
    with Runtime(template=template, server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        by_id, by_name = rt.invoke("Named"), rt.invoke("my-real-name")
        assert rt.environments("Named") == rt.environments("my-real-name")
    assert by_id.json() == by_name.json() == "named"
    assert by_id.function_name == "my-real-name" and by_name.start_kind is StartKind.WARM


def test_a_closed_async_runtime_refuses_work(tmp_path: Path, server: ServerConfig) -> None:
    """It used to start a new fork server and run the call, leaving files behind."""

    async def main() -> list[str]:
        rt = await AsyncRuntime([function(tmp_path, "count", COUNTER)], server=server).start()
        await rt.close()
        await rt.close()  # twice is fine
        refused = []
        for call in (rt.invoke("count"), rt.reclaim(), rt.add(function(tmp_path, "b", COUNTER))):
            with pytest.raises(KeepwarmError) as exc:
                await call
            refused.append(str(exc.value))
        return refused

    assert asyncio.run(main()) == ["this Runtime is closed"] * 3
    assert not list((server.data_dir / "envs").iterdir())


def test_an_event_over_the_sync_limit_is_refused(tmp_path: Path, server: ServerConfig) -> None:
    with Runtime([function(tmp_path, "count", COUNTER)], server=server) as rt:
        with pytest.raises(RequestTooLarge, match="smaller than 6291456 bytes"):
            rt.invoke("count", {"x": "a" * (6 * 1024 * 1024)})
        assert rt.invoke("count").json() == 1  # nothing ran


def test_a_template_function_that_cannot_run_does_not_stop_the_others(
    tmp_path: Path, server: ServerConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to refuse the whole template, as no reader but ``keepwarm serve`` took it."""
    template = template_with_a_broken_function(tmp_path)
    with caplog.at_level(logging.WARNING, logger="keepwarm.template"):
        rt = Runtime(template=template, server=server)
    with rt:
        assert rt.invoke("Good", {"a": 1}).json() == {"got": {"a": 1}}
        assert rt.failed_functions == {"broken-fn": TOO_LITTLE_MEMORY}
        for name in ("Broken", "broken-fn"):
            with pytest.raises(BadFunction) as refused:
                rt.invoke(name)
            assert str(refused.value) == f"Function Broken: {TOO_LITTLE_MEMORY}"
        with pytest.raises(BadFunction):
            rt.environments("broken-fn")
    assert [r.getMessage() for r in caplog.records] == [
        f"keepwarm: function broken-fn (Broken in the template) cannot run (skipped): "
        f"{TOO_LITTLE_MEMORY}"
    ]

    async def from_the_async_api() -> tuple[dict[str, str], object]:
        async with AsyncRuntime(template=template, server=server) as art:
            with pytest.raises(BadFunction, match=r"^Function Broken: 1 validation error"):
                await art.invoke("Broken")
            return art.failed_functions, (await art.invoke("Good")).json()["got"]

    assert asyncio.run(from_the_async_api()) == ({"broken-fn": TOO_LITTLE_MEMORY}, {})


def test_a_template_of_which_nothing_runs_is_refused_whole(
    tmp_path: Path, server: ServerConfig
) -> None:
    """As before (a Globals value every function inherits), and no loop thread is left."""
    template = template_with_a_broken_function(
        tmp_path, problem="Globals: {Function: {MemorySize: 1}}"
    )
    threads = threading.active_count()
    with pytest.raises(BadFunction, match=r"^Function Good: 1 validation error detected"):
        Runtime(template=template, server=server)
    assert threading.active_count() == threads
