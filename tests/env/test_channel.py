"""The server end of the Python runtime's framed socket: what each frame tells the environment.

A real socket pair and a real event loop; the environment is replaced by a recorder because
what is under test is only the translation from frames to the Runtime API's verbs.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from keepwarm.env.channel import PipeChannel
from keepwarm.invocation import Invocation
from keepwarm.runtimes.python import wire


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.got = asyncio.Event()

    def runtime_next(self, report: dict[str, Any]) -> None:
        self.calls.append(("next", report.get("rss_kb")))
        self.got.set()

    def runtime_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self.calls.append(("response", request_id, body, content_type))

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self.calls.append(("error", request_id, body))

    def runtime_init_error(self, error_type: str | None, body: bytes, rss_kb: int = 0) -> None:
        self.calls.append(("init_error", error_type, body) + ((rss_kb,) if rss_kb else ()))
        self.got.set()


async def _exchange(*frames: bytes, current: str = "r1") -> list[tuple[Any, ...]]:
    ours, theirs = socket.socketpair()
    sink = Recorder()
    channel = PipeChannel(ours, sink)
    channel.deliver(Invocation(b"{}", request_id=current), 0)
    try:
        for frame in frames:
            sink.got.clear()
            theirs.sendall(frame)
            await asyncio.wait_for(sink.got.wait(), 10)
        return sink.calls
    finally:
        channel.close()
        theirs.close()


def test_an_answer_carrying_next_is_an_answer_then_ready() -> None:
    frame = wire.encode(
        {"t": "response", "id": "r1", "ct": "text/plain", "next": {"rss_kb": 7}}, b"hi"
    )
    calls = asyncio.run(_exchange(frame))
    assert calls == [("response", "r1", b"hi", "text/plain"), ("next", 7)]


def test_an_error_carrying_next_and_separate_frames_read_the_same() -> None:
    merged = wire.encode({"t": "error", "id": "r2", "next": {"rss_kb": 8}}, b"{}")
    apart = wire.encode({"t": "error", "id": "r2"}, b"{}") + wire.encode({"t": "next", "rss_kb": 8})
    assert asyncio.run(_exchange(merged, current="r2")) == asyncio.run(
        _exchange(apart, current="r2")
    )
    assert asyncio.run(_exchange(merged, current="r2")) == [("error", "r2", b"{}"), ("next", 8)]


def test_an_answer_for_another_request_is_dropped_with_its_next() -> None:
    forged = wire.encode({"t": "response", "id": "other", "next": {"rss_kb": 1}}, b"x")
    replayed = wire.encode({"t": "response", "id": "r1", "next": {"rss_kb": 3}}, b"again")
    real = wire.encode({"t": "response", "id": "r1", "ct": "a/b", "next": {"rss_kb": 2}}, b"y")
    calls = asyncio.run(_exchange(forged + real + replayed + wire.encode({"t": "next"})))
    assert calls == [("response", "r1", b"y", "a/b"), ("next", 2), ("next", None)]


def test_an_init_error_alone_and_a_plain_next_at_start() -> None:
    calls = asyncio.run(
        _exchange(
            wire.encode({"t": "next", "rss_kb": 5}),
            wire.encode({"t": "init_error", "type": "Runtime.ImportModuleError"}, b"{}"),
        )
    )
    assert calls == [("next", 5), ("init_error", "Runtime.ImportModuleError", b"{}")]
    with_peak = wire.encode({"t": "init_error", "type": "Runtime.Unknown", "rss_kb": 9}, b"{}")
    assert asyncio.run(_exchange(with_peak)) == [("init_error", "Runtime.Unknown", b"{}", 9)]


def test_delivered_events_reach_the_runtime_as_frames() -> None:
    async def main() -> list[tuple[dict[str, Any], bytes]]:
        ours, theirs = socket.socketpair()
        channel = PipeChannel(ours, Recorder())
        inv = Invocation(b'{"k": 1}', invoked_arn="arn:x", trace_id="Root=1")
        channel.deliver(inv, 1234, spin_us=50)
        frames = wire.FrameBuffer().feed(theirs.recv(65536))
        channel.close()
        theirs.close()
        return frames

    [(meta, body)] = asyncio.run(main())
    assert body == b'{"k": 1}'
    assert meta["t"] == "invoke" and meta["deadline"] == 1234 and meta["spin"] == 50
    assert meta["arn"] == "arn:x" and meta["trace"] == "Root=1" and "cc" not in meta
