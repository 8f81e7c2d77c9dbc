"""The event store and the retry policy, on real SQLite files (no server)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keepwarm.asyncq.policy import RetryPolicy
from keepwarm.asyncq.store import DeadLetter, Event, EventStore, read_store
from keepwarm.errors import InvalidParameterValue


def test_policy_matches_lambda_defaults() -> None:
    policy = RetryPolicy()
    assert [policy.retry_delay(n) for n in (1, 2, 3)] == [60.0, 120.0, 120.0]
    assert [policy.throttle_delay(n) for n in (1, 2, 3, 20)] == [1.0, 2.0, 4.0, 300.0]
    fast = RetryPolicy(time_scale=0.001)
    assert fast.retry_delay(1) == pytest.approx(0.06) and fast.max_age(21600) == pytest.approx(21.6)
    with pytest.raises(InvalidParameterValue):
        RetryPolicy(time_scale=0)


def test_policy_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPWARM_ASYNC_TIME_SCALE", "0.5")
    assert RetryPolicy.from_env().retry_delay(1) == 30.0
    assert RetryPolicy.from_env(2.0).retry_delay(1) == 120.0


def test_claim_reschedule_finish_and_recover(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = EventStore(tmp_path / "events.db")
        first, second = Event("f", None, b"{}"), Event("g", "live", b'{"a": 1}')
        second.enqueued_at = first.enqueued_at + 1
        await store.enqueue(first)
        await store.enqueue(second)
        now = time.time() + 2
        assert await store.due_functions(now) == ["f", "g"]  # the longest waiting first
        claimed = await store.claim(now, 10, "f") + await store.claim(now, 10, "g")
        assert [e.id for e in claimed] == [first.id, second.id]
        assert await store.claim(now, 10, "f") == []  # running events are not claimed twice
        assert await store.due_functions(now) == []
        first.attempts, first.next_at = 1, now + 100
        first.last_result = {"functionError": "Unhandled"}
        await store.reschedule(first)
        assert await store.next_due() == pytest.approx(now + 100)
        follow = Event("dest", None, b'{"record": 1}')
        dead = DeadLetter(
            "g", "arn:aws:sqs:us-east-1:000000000000:q", "destination", "Success", "{}"
        )
        await store.finish(second, follow_up=follow, dead=dead)
        later = now + 200
        assert await store.due_functions(later) == ["dest", "f"]  # dest was due at once
        again = await store.claim(later, 10, "f") + await store.claim(later, 10, "dest")
        assert {e.id for e in again} == {first.id, follow.id}
        assert next(e for e in again if e.id == first.id).last_result == {
            "functionError": "Unhandled"
        }
        store.close()

    asyncio.run(scenario())
    reopened = EventStore(tmp_path / "events.db")
    assert reopened.recover() == 2  # both were running when the "server" went away
    reopened.close()
    queued, dead = read_store(tmp_path / "events.db")
    assert len(queued) == 2 and all(e["state"] == "queued" for e in queued)
    assert [d["target"] for d in dead] == ["arn:aws:sqs:us-east-1:000000000000:q"]


CHILD = """
import asyncio, os, sys
from pathlib import Path
from keepwarm.asyncq.store import Event, EventStore

async def main():
    store = EventStore(Path(sys.argv[1]))
    ids = []
    for i in range(int(sys.argv[2])):
        event = Event("f", None, b"{}")
        await store.enqueue(event)
        ids.append(event.id)
    print(" ".join(ids), flush=True)
    os._exit(0)  # no close, no checkpoint: like kill -9 right after the 202s

asyncio.run(main())
"""


def test_enqueued_events_survive_an_abrupt_exit(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "25"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ids = done.stdout.split()
    queued, _ = read_store(path)
    assert sorted(e["id"] for e in queued) == sorted(ids) and len(ids) == 25


def test_group_commit_throughput(tmp_path: Path) -> None:
    """Concurrent enqueues share fsyncs (design target: >= 1,000 durable events/s)."""

    async def scenario() -> float:
        store = EventStore(tmp_path / "events.db")
        events = [Event("f", None, json.dumps({"i": i}).encode()) for i in range(2000)]
        start = time.perf_counter()
        await asyncio.gather(*(store.enqueue(e) for e in events))
        elapsed = time.perf_counter() - start
        store.close()
        return len(events) / elapsed

    rate = asyncio.run(scenario())
    assert rate > 1000, f"{rate:.0f} events/s"
    assert os.path.getsize(tmp_path / "events.db") > 0
