"""The async queue when its store misbehaves or is shared, and per-version dead letters and
foreign destinations (found by black-box testing)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.asyncq.test_async_invoke import FAILS, WORKS, env, events_cli, lines
from tests.lambda_api.kw_server import Server, create, wait_for

LOCKED_S = 6.0  # longer than the store's busy timeout (5 s): its writes fail meanwhile


def test_a_store_error_stalls_the_queue_only_while_it_lasts(
    start_server: Any, side_dir: Path
) -> None:
    """A write the store refuses (here: another process holds the database's write lock past
    the busy timeout; a full disk does the same) used to end the dispatcher for good: later
    events were accepted (202) and never ran, retries never came."""
    server: Server = start_server("--async-time-scale", "0.01")
    lam = server.client()
    create(lam, "fails", FAILS, Environment=env(side_dir))
    create(lam, "works", WORKS, Environment=env(side_dir))
    lam.invoke(FunctionName="fails", InvocationType="Event")
    wait_for(lambda: lines(side_dir / "attempts.log"))  # the retry is due 0.6 s later
    holder = sqlite3.connect(server.data_dir / "events.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        time.sleep(LOCKED_S)  # the lock's length, not a wait for something to happen
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    request = lam.invoke(FunctionName="works", InvocationType="Event")
    wait_for(lambda: request["ResponseMetadata"]["RequestId"] in lines(side_dir / "ran.log"))
    wait_for(lambda: len(lines(side_dir / "attempts.log")) == 3, timeout=60)
    wait_for(lambda: events_cli(server.data_dir)["queued"] == [])


def test_a_second_server_on_one_data_dir_is_refused(server: Server) -> None:
    argv = [sys.executable, "-m", "keepwarm.cli.main", "serve", "--port", "0"]
    second = subprocess.run(
        [*argv, "--data-dir", str(server.data_dir)], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1
    assert f"is in use by another keepwarm serve (pid {server.proc.pid})" in second.stderr  # type: ignore[union-attr]
    assert server.client().list_functions()["Functions"] == []  # the first is unharmed


def test_a_version_s_failed_events_go_to_that_version_s_dead_letter_target(
    server: Server, lam: Any, side_dir: Path
) -> None:
    first, second = (f"arn:aws:sqs:us-east-1:000000000000:queue-{n}" for n in "ab")
    create(lam, "dlq", FAILS, Environment=env(side_dir), DeadLetterConfig={"TargetArn": first})
    lam.publish_version(FunctionName="dlq")
    lam.update_function_configuration(FunctionName="dlq", DeadLetterConfig={"TargetArn": second})
    lam.put_function_event_invoke_config(FunctionName="dlq", Qualifier="1", MaximumRetryAttempts=0)
    lam.invoke(FunctionName="dlq", Qualifier="1", InvocationType="Event")
    store = wait_for(lambda: (s := events_cli(server.data_dir))["dead_letters"] and s)
    assert [d["target"] for d in store["dead_letters"]] == [first]


def test_a_destination_in_another_region_is_not_a_local_function(
    server: Server, lam: Any, side_dir: Path
) -> None:
    elsewhere = "arn:aws:lambda:eu-west-1:111111111111:function:works"
    create(lam, "works", WORKS, Environment=env(side_dir))
    create(lam, "source", WORKS, Environment=env(side_dir))
    lam.put_function_event_invoke_config(
        FunctionName="source", DestinationConfig={"OnSuccess": {"Destination": elsewhere}}
    )
    request = lam.invoke(FunctionName="source", InvocationType="Event")
    store = wait_for(lambda: (s := events_cli(server.data_dir))["dead_letters"] and s)
    [dead] = store["dead_letters"]
    assert (dead["target"], dead["kind"]) == (elsewhere, "destination")
    assert lines(side_dir / "ran.log") == [request["ResponseMetadata"]["RequestId"]]
