"""A template function that cannot run, as the commands that run functions meet it (real
subprocesses): the others run, with one line naming it; asking for it is one error with its
reason, the StateReason ``keepwarm serve`` gives it. It used to refuse the whole template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.run import assert_one_line_error, keepwarm
from tests.helpers import TOO_LITTLE_MEMORY, template_with_a_broken_function

SKIPPED = (
    "keepwarm: function broken-fn (Broken in the template) cannot run (skipped): "
    + TOO_LITTLE_MEMORY
)
REFUSED = f"keepwarm: Function Broken: {TOO_LITTLE_MEMORY}"


def invoke(template: Path, name: str, tmp_path: Path) -> tuple[int, str, str]:
    done = keepwarm("invoke", name, "-t", str(template), "-q", "--data-dir", str(tmp_path / "d"))
    return done.returncode, done.stdout, done.stderr


def test_invoke_runs_the_others_with_one_line_about_it(tmp_path: Path) -> None:
    template = template_with_a_broken_function(tmp_path)
    code, out, err = invoke(template, "Good", tmp_path)
    assert code == 0, err
    assert json.loads(out.splitlines()[-1]) == {"got": {}}
    assert err == SKIPPED + "\n"


@pytest.mark.parametrize("name", ["Broken", "broken-fn"])
def test_invoke_of_it_is_one_error_with_its_reason(tmp_path: Path, name: str) -> None:
    done = keepwarm("invoke", name, "-t", str(template_with_a_broken_function(tmp_path)))
    assert_one_line_error(done, REFUSED)
    assert done.stdout == ""


def test_a_runtime_keepwarm_does_not_run_is_its_reason_too(tmp_path: Path) -> None:
    """It was skipped, and asking for it said only "Function not found"."""
    template = template_with_a_broken_function(tmp_path, problem="Runtime: java21")
    done = keepwarm("invoke", "Broken", "-t", str(template))
    assert_one_line_error(
        done,
        "keepwarm: Function Broken: runtime java21 is not one keepwarm runs (Python 3.9-3.14, "
        "Node.js 18-24, provided).",
    )


def test_a_template_of_which_nothing_runs_is_still_refused_whole(tmp_path: Path) -> None:
    """A Globals value every function inherits: the same message as before, for any name."""
    template = template_with_a_broken_function(
        tmp_path, problem="Globals: {Function: {MemorySize: 1}}"
    )
    done = keepwarm("invoke", "Nope", "-t", str(template))
    assert_one_line_error(done, f"keepwarm: Function Good: {TOO_LITTLE_MEMORY}")


def test_audit_replay_runs_the_others(tmp_path: Path) -> None:
    template = template_with_a_broken_function(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n{}\n")
    done = keepwarm("audit", "--replay", str(events), "-f", "Good", "-t", str(template))
    assert done.returncode == 0, done.stderr
    assert "2 events gave the same result under every pattern" in done.stdout
    assert done.stderr == SKIPPED + "\n"
    refused = keepwarm("audit", "--replay", str(events), "-f", "Broken", "-t", str(template))
    assert refused.returncode == 2
    assert refused.stderr == f"keepwarm audit: error: Function Broken: {TOO_LITTLE_MEMORY}\n"


def test_demo_runs_beside_a_function_that_cannot_run(tmp_path: Path) -> None:
    names = ("Greeting", "Cache", "Payment")
    template = template_with_a_broken_function(tmp_path, names)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = keepwarm("demo", "-t", str(template), "--keep-alive", "0", tmp=tmp)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('{"got": {}}') == 4 and done.stderr == SKIPPED + "\n"


def test_demo_refuses_a_function_it_needs_that_cannot_run(tmp_path: Path) -> None:
    template = template_with_a_broken_function(tmp_path, ("Greeting", "Cache"))
    text = template.read_text().replace("Broken:", "Payment:").replace("broken-fn", "Payment")
    template.write_text(text)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = keepwarm("demo", "-t", str(template), tmp=tmp)
    assert_one_line_error(done, f"keepwarm: Function Payment: {TOO_LITTLE_MEMORY}")
    assert list(tmp.iterdir()) == []
