"""Event invocations through a real server: retries, destinations, dead letters, kill -9."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tests.lambda_api.kw_server import Server, create, wait_for

FAILS = """
import json, os, time
def handler(event, context):
    with open(os.path.join(os.environ["SIDE"], "attempts.log"), "a") as fh:
        fh.write(json.dumps({"id": context.aws_request_id, "t": time.time()}) + "\\n")
    raise Exception("always fails")
"""
WORKS = """
import json, os, time
def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    with open(os.path.join(os.environ["SIDE"], "ran.log"), "a") as fh:
        fh.write(context.aws_request_id + "\\n")
    return {"ok": event}
"""
RECORDER = """
import json, os
def handler(event, context):
    name = "dest-" + event["requestContext"]["requestId"] + ".json"
    with open(os.path.join(os.environ["SIDE"], name), "w") as fh:
        json.dump(event, fh)
"""
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def env(side: Path, **extra: str) -> dict[str, Any]:
    """Function variables pointing at ``side``; the shared log files are created writable for
    everyone, since environments may run as different unprivileged users."""
    for name in ("ran.log", "attempts.log"):
        path = side / name
        path.touch()
        path.chmod(0o666)
    return {"Variables": {"SIDE": str(side), **extra}}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def events_cli(data_dir: Path, parse: Callable[[bytes], Any] = json.loads) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "keepwarm.cli.main",
            "events",
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = parse(out.stdout)
    return result


def test_retries_then_on_failure_lambda_destination(lam: Any, side_dir: Path) -> None:
    create(lam, "recorder", RECORDER, Environment=env(side_dir))
    create(lam, "fails", FAILS, Environment=env(side_dir))
    lam.put_function_event_invoke_config(
        FunctionName="fails", DestinationConfig={"OnFailure": {"Destination": ARN + "recorder"}}
    )
    accepted = lam.invoke(FunctionName="fails", InvocationType="Event", Payload=b'{"n": 7}')
    request_id = accepted["ResponseMetadata"]["RequestId"]
    record_path = side_dir / f"dest-{request_id}.json"
    wait_for(record_path.exists)
    attempts = [json.loads(x) for x in lines(side_dir / "attempts.log")]
    assert [a["id"] for a in attempts] == [request_id] * 3
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.06 and gaps[1] >= 0.12  # ~1 min then ~2 min, at time scale 0.001
    record = json.loads(record_path.read_text())
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": ARN + "fails:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "Exception"
    assert record["responsePayload"]["errorMessage"] == "always fails"


def test_max_retry_attempts_zero_and_success_destination(lam: Any, side_dir: Path) -> None:
    create(lam, "recorder", RECORDER, Environment=env(side_dir))
    create(lam, "once", FAILS, Environment=env(side_dir))
    create(lam, "works", WORKS, Environment=env(side_dir))
    lam.put_function_event_invoke_config(
        FunctionName="once",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": ARN + "recorder"}},
    )
    lam.put_function_event_invoke_config(
        FunctionName="works", DestinationConfig={"OnSuccess": {"Destination": ARN + "recorder"}}
    )
    failed = lam.invoke(FunctionName="once", InvocationType="Event")["ResponseMetadata"][
        "RequestId"
    ]
    worked = lam.invoke(FunctionName="works", InvocationType="Event", Payload=b'{"x": 1}')
    worked_id = worked["ResponseMetadata"]["RequestId"]
    wait_for((side_dir / f"dest-{failed}.json").exists)
    wait_for((side_dir / f"dest-{worked_id}.json").exists)
    assert len(lines(side_dir / "attempts.log")) == 1
    ok = json.loads((side_dir / f"dest-{worked_id}.json").read_text())
    assert ok["requestContext"]["condition"] == "Success"
    assert ok["requestContext"]["approximateInvokeCount"] == 1
    assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert ok["responsePayload"] == {"ok": {"x": 1}}


def test_other_destinations_and_dlq_go_to_the_dead_letter_store(
    server: Server, lam: Any, side_dir: Path
) -> None:
    sqs = "arn:aws:sqs:us-east-1:000000000000:results"
    sns = "arn:aws:sns:us-east-1:000000000000:dlq"
    create(lam, "works", WORKS, Environment=env(side_dir))
    create(lam, "fails", FAILS, Environment=env(side_dir), DeadLetterConfig={"TargetArn": sns})
    lam.put_function_event_invoke_config(
        FunctionName="works", DestinationConfig={"OnSuccess": {"Destination": sqs}}
    )
    lam.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=1)
    ok_id = lam.invoke(FunctionName="works", InvocationType="Event", Payload=b'{"a": 1}')[
        "ResponseMetadata"
    ]["RequestId"]
    bad_id = lam.invoke(FunctionName="fails", InvocationType="Event", Payload=b'{"b": 2}')[
        "ResponseMetadata"
    ]["RequestId"]
    store = wait_for(
        lambda: (s := events_cli(server.data_dir)) and len(s["dead_letters"] and s) == 2 and s
    )
    by_id = {d["event_id"]: d for d in store["dead_letters"]}
    dest, dlq = by_id[ok_id], by_id[bad_id]
    assert (dest["target"], dest["kind"], dest["condition"]) == (sqs, "destination", "Success")
    assert dest["body"]["requestContext"]["requestId"] == ok_id
    assert dest["body"]["responsePayload"] == {"ok": {"a": 1}}
    assert (dlq["target"], dlq["kind"], dlq["condition"]) == (sns, "dlq", "RetriesExhausted")
    assert dlq["body"] == {"b": 2}  # a DLQ gets only the event
    assert len(lines(side_dir / "attempts.log")) == 2
    assert store["queued"] == []


def test_event_age_exceeded(lam: Any, side_dir: Path) -> None:
    create(lam, "recorder", RECORDER, Environment=env(side_dir))
    create(lam, "aging", FAILS, Environment=env(side_dir))
    lam.put_function_event_invoke_config(
        FunctionName="aging",
        MaximumEventAgeInSeconds=60,  # 60 ms at time scale 0.001
        DestinationConfig={"OnFailure": {"Destination": ARN + "recorder"}},
    )
    request_id = lam.invoke(FunctionName="aging", InvocationType="Event")["ResponseMetadata"][
        "RequestId"
    ]
    path = side_dir / f"dest-{request_id}.json"
    wait_for(path.exists)
    record = json.loads(path.read_text())
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] <= 1


def test_kill_9_with_events_queued_then_restart_runs_every_event(
    start_server: Any, tmp_path: Path, side_dir: Path
) -> None:
    data = tmp_path / "durable"
    first: Server = start_server("--async-time-scale", "0.001", data_dir=data)
    lam = first.client()
    create(lam, "slow", WORKS, Environment=env(side_dir, SLEEP="0.2"))
    lam.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=2)
    accepted = {
        lam.invoke(
            FunctionName="slow", InvocationType="Event", Payload=json.dumps({"i": i}).encode()
        )["ResponseMetadata"]["RequestId"]
        for i in range(30)
    }
    first.kill9()
    ran_before = set(lines(side_dir / "ran.log"))
    assert len(ran_before) < len(accepted), "the kill should interrupt the queue"
    assert events_cli(data)["queued"], "events were queued at the kill"

    second: Server = start_server("--async-time-scale", "0.001", data_dir=data)
    wait_for(lambda: accepted <= set(lines(side_dir / "ran.log")), timeout=60)
    assert set(lines(side_dir / "ran.log")) == accepted  # nothing foreign; duplicates allowed
    wait_for(lambda: events_cli(second.data_dir)["queued"] == [])


def test_event_invocations_of_a_deleted_function_are_dropped(lam: Any, side_dir: Path) -> None:
    create(lam, "gone", WORKS, Environment=env(side_dir, SLEEP="0"))
    lam.put_function_concurrency(FunctionName="gone", ReservedConcurrentExecutions=0)
    lam.invoke(FunctionName="gone", InvocationType="Event")
    lam.delete_function(FunctionName="gone")
    time_limit = time.monotonic() + 5
    assert not (side_dir / "ran.log").exists() or time.monotonic() < time_limit


def test_a_deeply_nested_event_still_reaches_its_destination_once(
    server: Server, lam: Any, side_dir: Path
) -> None:
    """Nested close to the parser's limit: the record is written without re-parsing the payload
    (which used to raise RecursionError, and the event was run again after every backoff)."""
    sqs = "arn:aws:sqs:us-east-1:000000000000:results"
    create(lam, "works", WORKS, Environment=env(side_dir))
    lam.put_function_event_invoke_config(
        FunctionName="works", DestinationConfig={"OnSuccess": {"Destination": sqs}}
    )
    depth = 970
    payload = b"[" * depth + b"]" * depth
    lam.invoke(FunctionName="works", InvocationType="Event", Payload=payload)
    wait_for(lambda: len(lines(side_dir / "ran.log")) >= 1)
    store = wait_for(
        lambda: (s := events_cli(server.data_dir, orjson.loads)) and s["dead_letters"] and s
    )
    [letter] = store["dead_letters"]
    assert letter["condition"] == "Success" and store["queued"] == []
    node = letter["body"]["requestPayload"]
    for _ in range(depth - 1):  # the event as sent, walked without recursion
        assert isinstance(node, list) and len(node) == 1
        node = node[0]
    assert node == []
    assert len(lines(side_dir / "ran.log")) == 1


def test_the_events_listing_survives_a_dead_letter_nested_past_python_s_parser(
    server: Server, lam: Any, side_dir: Path
) -> None:
    sqs = "arn:aws:sqs:us-east-1:000000000000:failures"
    create(lam, "fails", FAILS, Environment=env(side_dir))
    lam.put_function_event_invoke_config(
        FunctionName="fails",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": sqs}},
    )
    depth = 1000  # Invoke takes up to 1,024 levels; json.loads stops near 1,000
    lam.invoke(FunctionName="fails", InvocationType="Event", Payload=b"[" * depth + b"]" * depth)
    store = wait_for(
        lambda: (s := events_cli(server.data_dir, orjson.loads)) and s["dead_letters"] and s
    )
    assert store["dead_letters"][0]["body"]["requestContext"]["condition"] == "RetriesExhausted"
    listing = subprocess.run(
        [sys.executable, "-m", "keepwarm.cli.main", "events", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    assert "dead letters: 1" in listing.stdout and sqs in listing.stdout


BLOCKS = """
import os, time
def handler(event, context):
    release = os.path.join(os.environ["SIDE"], "release")
    deadline = time.time() + 50
    while not os.path.exists(release) and time.time() < deadline:
        time.sleep(0.05)
"""


def test_one_function_s_slow_events_do_not_hold_back_another_s(
    side_dir: Path, start_server: Callable[..., Server]
) -> None:  # side_dir first: torn down after the server, so "release" is still there
    lam = start_server("--async-time-scale", "0.001", "--async-concurrency", "2").client()
    create(lam, "blocks", BLOCKS, Environment=env(side_dir), Timeout=60)
    create(lam, "quick", WORKS, Environment=env(side_dir))
    for _ in range(4):
        lam.invoke(FunctionName="blocks", InvocationType="Event")
    wait_for(lambda: len(lam.list_functions()["Functions"]) == 2)
    sent = lam.invoke(FunctionName="quick", InvocationType="Event")
    request_id = sent["ResponseMetadata"]["RequestId"]
    try:
        wait_for(lambda: request_id in lines(side_dir / "ran.log"), timeout=40)
    finally:
        (side_dir / "release").touch()
