"""Concurrency: separate environments, limits, Lambda's throttle reasons, provisioned envs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from keepwarm import AsyncRuntime, Runtime, ServerConfig, StartKind, Throttled
from keepwarm.invocation import InvocationResult
from tests.helpers import REPORT_RE, function

BARRIER = """
import os, time

seen = []

def handler(event, context):
    seen.append(event["n"])
    side_dir = event["side_dir"]
    open(os.path.join(side_dir, context.aws_request_id), "w").close()
    deadline = time.time() + 20
    while len(os.listdir(side_dir)) < event["parties"] and time.time() < deadline:
        time.sleep(0.005)
    if event.get("hold"):
        while not os.path.exists(event["hold"]) and time.time() < deadline:
            time.sleep(0.005)
    return {"n": event["n"], "seen": list(seen), "pid": os.getpid()}
"""


def test_eight_concurrent_calls_get_eight_environments(
    tmp_path: Path, server: ServerConfig, side_dir: Path
) -> None:
    async def main() -> list[InvocationResult]:
        async with AsyncRuntime([function(tmp_path, "b", BARRIER)], server=server) as rt:
            events = [{"n": i, "side_dir": str(side_dir), "parties": 8} for i in range(8)]
            return await asyncio.gather(*(rt.invoke("b", e) for e in events))

    results = asyncio.run(main())
    assert len({r.env_id for r in results}) == 8
    assert len({r.json()["pid"] for r in results}) == 8
    for i, result in enumerate(results):
        assert result.json()["seen"] == [i]  # each environment saw only its own request
        assert result.start_kind is StartKind.COLD


def test_post_credit_card_example_concurrently(tmp_path: Path, server: ServerConfig) -> None:
    template = Path(__file__).resolve().parents[2] / "examples" / "template.yaml"
    cards = [f"4{i:015d}" for i in range(12)]

    async def main() -> list[InvocationResult]:
        async with AsyncRuntime(template=template, server=server) as rt:
            events = [
                {
                    "credit_card_number": c,
                    "credit_card_expiration": "12/30",
                    "credit_card_security_code": "123",
                }
                for c in cards
            ]
            return await asyncio.gather(*(rt.invoke("Payment", e) for e in events))

    results = asyncio.run(main())
    assert [r.json()["card_last4"] for r in results] == [c[-4:] for c in cards]


def _held(tmp: Path, server: ServerConfig, side_dir: Path, **config: object) -> tuple[object, ...]:
    hold = side_dir / "release"
    parties_dir = side_dir / "parties"
    parties_dir.mkdir()
    parties_dir.chmod(0o777)

    async def main() -> tuple[object, ...]:
        fn = function(tmp, "held", BARRIER, **config)
        async with AsyncRuntime([fn], server=server) as rt:
            event = {"n": 0, "side_dir": str(parties_dir), "parties": 1, "hold": str(hold)}
            first = asyncio.ensure_future(rt.invoke("held", event))
            while not any(parties_dir.iterdir()):
                await asyncio.sleep(0.01)
            try:
                await rt.invoke("held", {"n": 1, "side_dir": str(parties_dir), "parties": 1})
            except Throttled as exc:
                outcome: tuple[object, ...] = (exc.reason, exc.message, exc.body())
            else:
                outcome = ("not throttled",)
            hold.touch()
            assert (await first).ok
            return outcome

    return asyncio.run(main())


def test_reserved_concurrency_throttles(
    tmp_path: Path, server: ServerConfig, side_dir: Path
) -> None:
    reason, message, body = _held(tmp_path, server, side_dir, reserved_concurrency=1)
    assert reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert message == "Rate Exceeded."
    assert body == {"Type": "User", "message": "Rate Exceeded.", "Reason": reason}


def test_account_limit_throttles(tmp_path: Path, side_dir: Path) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", concurrency_limit=1)
    reason, _, _ = _held(tmp_path, server, side_dir)
    assert reason == "ConcurrentInvocationLimitExceeded"


def test_reserved_zero_always_throttles(tmp_path: Path, server: ServerConfig) -> None:
    fn = function(tmp_path, "off", "def handler(e, c):\n    return 1\n", reserved_concurrency=0)
    with Runtime([fn], server=server) as rt, pytest.raises(Throttled) as info:
        rt.invoke("off")
    assert info.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_provisioned_environments_are_ready_before_the_first_call(
    tmp_path: Path, server: ServerConfig
) -> None:
    source = (
        "import os\n\ndef handler(e, c):\n    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
    )
    fn = function(tmp_path, "p", source, provisioned_concurrency=2)
    with Runtime([fn], server=server) as rt:
        envs = rt.environments("p")
        assert [e["state"] for e in envs] == ["idle", "idle"]
        result = rt.invoke("p")
    assert result.start_kind is StartKind.PROVISIONED
    assert result.json() == "provisioned-concurrency"
    assert result.env_id in {e["id"] for e in envs}
    report = REPORT_RE.search(result.logs)
    assert report is not None and report["i"] is None


def test_reuse_never_and_max_invocations(tmp_path: Path) -> None:
    counter = "n = 0\n\ndef handler(e, c):\n    global n\n    n += 1\n    return n\n"
    never = ServerConfig(data_dir=tmp_path / "d1", reuse="never")
    with Runtime([function(tmp_path, "c", counter)], server=never) as rt:
        assert [rt.invoke("c").json() for _ in range(3)] == [1, 1, 1]
    capped = ServerConfig(data_dir=tmp_path / "d2", max_invocations_per_env=2)
    with Runtime([function(tmp_path, "c", counter)], server=capped) as rt:
        assert [rt.invoke("c").json() for _ in range(5)] == [1, 2, 1, 2, 1]
