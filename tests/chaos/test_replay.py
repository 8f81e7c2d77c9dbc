"""``keepwarm audit --replay`` as a user runs it: a real CLI process, real environments."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from keepwarm import FunctionConfig
from keepwarm.chaos import read_events, replay

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TEMPLATE = EXAMPLES / "template.yaml"
CARD = json.loads((EXAMPLES / "events" / "payment.json").read_text())


def audit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwarm.cli.main", "audit", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        check=False,
    )


def events_file(tmp_path: Path, events: Sequence[object]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_warm_state_is_reported_with_a_diff(tmp_path: Path) -> None:
    events = events_file(tmp_path, [{}, {}, {}])
    done = audit("--replay", str(events), "-f", "Greeting", "-t", str(TEMPLATE), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "event 1:" not in out
    assert "event 2: result depends on environment reuse" in out
    assert "--- event 2 (cold)\n+++ event 2 (warm)\n" in out
    assert '-"hello"\n+"it\'s me"\n' in out
    assert "depend on environment reuse." in out


def test_counter_differs_from_its_second_event_on(tmp_path: Path) -> None:
    events = events_file(tmp_path, [{"n": i} for i in range(4)])
    done = audit(
        "--replay",
        str(events),
        "-f",
        "Counter",
        "-t",
        str(TEMPLATE),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [d["event"] for d in report["differing"]] == [2, 3, 4]
    last = report["differing"][-1]
    assert last["outcomes"]["cold"] == {"count": 1}
    assert last["outcomes"]["warm"] == {"count": 4}
    assert '-  "count": 1\n+  "count": 4' in last["diffs"]["warm"]


def test_pure_function_exits_zero(tmp_path: Path) -> None:
    cards = [dict(CARD, credit_card_number=f"41111111111111{i:02d}") for i in range(3)]
    done = audit(
        "--replay",
        str(events_file(tmp_path, cards)),
        "-f",
        "PaymentFixed",
        "-t",
        str(TEMPLATE),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 3 events gave the same result under every pattern." in done.stdout


def test_ignore_field_removes_what_legitimately_varies(tmp_path: Path) -> None:
    events = str(events_file(tmp_path, [{}, {}]))
    base = ["--replay", events, "-f", "Hello", "-t", str(TEMPLATE)]
    assert audit(*base, "--ignore-field", "request_id", cwd=tmp_path).returncode == 1
    done = audit(*base, "--ignore-field", "request_id", "--ignore-field", "cold", cwd=tmp_path)
    assert done.returncode == 0, done.stdout


def test_function_errors_compare_without_request_ids(tmp_path: Path) -> None:
    invalid = json.loads((EXAMPLES / "events" / "payment-invalid.json").read_text())
    events = str(events_file(tmp_path, [invalid, invalid]))
    done = audit("--replay", events, "-f", "PaymentFixed", "-t", str(TEMPLATE), cwd=tmp_path)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay", "events.jsonl"], "--replay needs -f/--function"),
        (["--replay", "events.jsonl", "-f", "Nope"], "no function 'Nope'"),
        (["--replay", "bad.jsonl", "-f", "Greeting"], "bad.jsonl:2: not valid JSON"),
        (
            ["--replay", "none.jsonl", "-f", "Greeting"],
            "error: cannot read none.jsonl: No such file or directory\n",
        ),
        (["--replay", "events.jsonl", "-f", "Greeting", "--ignore-field", "a..b"], "bad field"),
        (["--replay", "events.jsonl", "-f", "Greeting", "--format", "sarif"], "not sarif"),
        ([], "give handler files or directories"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    events_file(tmp_path, [{}])
    (tmp_path / "bad.jsonl").write_text("{}\n{nope\n")
    done = audit(*args, "-t", str(TEMPLATE), cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr


def test_shuffled_assignment_is_seeded(tmp_path: Path) -> None:
    config = FunctionConfig("Counter", "counter.handler", EXAMPLES / "python")
    events: list[object] = [{}] * 6
    runs = [replay(config, events, lanes=3, seed=7).to_dict() for _ in range(2)]
    assert runs[0] == runs[1]
    single = replay(config, events, lanes=1, seed=7)
    for diff in single.differing:
        assert diff.outcomes["shuffled"] == diff.outcomes["warm"]


def test_read_events_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"a": 1}\n\n  \n[1, 2]\n')
    assert read_events(path) == [{"a": 1}, [1, 2]]
