"""``keepwarm simulate`` as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.run import assert_one_line_error, assert_usage_error, keepwarm
from tests.helpers import TOO_LITTLE_MEMORY, template_with_a_broken_function, write_code


def test_json_prediction_is_reproducible_and_complete() -> None:
    args = (
        "simulate",
        "--rate",
        "2/s",
        "--for",
        "10m",
        "--keep-alive",
        "5",
        "--cache-ttl",
        "1m",
        "--json",
    )
    first, second = keepwarm(*args), keepwarm(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    out = json.loads(first.stdout)
    assert out["traffic"] == {
        "poisson": [{"rate_per_s": 2.0, "length_s": None}],
        "span_s": 600.0,
        "seed": 0,
    }
    assert out["model"]["keep_alive_s"] == 5 and out["model"]["reap_interval_s"] == 1.0
    assert out["model"]["max_lifetime_s"] == 7200 and out["model"]["timeout_s"] == 3  # defaults
    assert 1000 < out["invocations"] < 1400
    assert out["cold_starts"] + out["warm_starts"] + out["provisioned_starts"] == out["served"]
    assert [c["ttl_s"] for c in out["cache"]] == [None, 60.0]
    assert set(out["invocations_per_environment"]) == {
        "environments",
        "mean",
        "p50",
        "p90",
        "p99",
        "max",
    }


def test_text_table_from_a_trace(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("start,duration\n0,0.5\n1,0.5\n100,0.5\n100.2,0.5\n")
    done = keepwarm("simulate", "--trace", str(trace), "--keep-alive", "30", "--init", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"4 invocations in 100.7s (trace {trace})"
    assert lines[1].startswith(
        "duration 0.1s, init 0s, timeout 3s, keep-alive 30s (reaper every 1s)"
    )
    rows = {
        label: rest for label, *rest in (re.split(r"\s{2,}", line.strip()) for line in lines[2:])
    }
    assert rows["cold starts"] == ["3", "75.00 %"] and rows["warm starts"] == ["1", "25.00 %"]
    assert rows["warm ratio"] == ["25.00 %", "(warm + provisioned) / served"]
    assert rows["peak environments"] == ["2", "alive at once"]
    assert rows["peak concurrency"] == ["2", "invocations at once"]
    assert rows["max"] == ["2"]  # of invocations per environment
    assert rows["cache hit ratio (no TTL)"] == ["25.00 %", "3 misses"]


def test_a_rate_profile_and_the_function_settings() -> None:
    profile = ("--rate", "20/s:1m", "--rate", "0/s:9m", "--for", "1h")
    function = ("--duration", "exp:200ms", "--reserved", "3", "--provisioned", "1")
    done = keepwarm("simulate", *profile, *function, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["throttled_by_reason"].keys() == {
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    }
    assert out["provisioned_starts"] > 0 and out["peak_concurrency"] == 3


def test_usage_errors() -> None:
    assert_usage_error(keepwarm("simulate", "--rate", "5/x", "--for", "1h"), "'5/x' is not a rate")
    assert_usage_error(
        keepwarm("simulate", "--rate", "5/s", "--for", "soon"), "'soon' is not a time"
    )
    assert_usage_error(
        keepwarm("simulate", "--rate", "5/s", "--for", "1h", "--duration", "gamma:1"), "--duration"
    )


def test_one_line_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    assert_one_line_error(
        keepwarm("simulate"), "give the traffic: --rate RATE --for LENGTH, or --trace FILE"
    )
    assert_one_line_error(keepwarm("simulate", "--rate", "5/s"), "give how long the traffic lasts")
    assert_one_line_error(
        keepwarm("simulate", "--rate", "5/s", "--trace", str(missing)), "either --trace or --rate"
    )
    assert_one_line_error(
        keepwarm("simulate", "--trace", str(missing)), f"No such file or directory: {missing}"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("0\n1,x\n")
    assert_one_line_error(keepwarm("simulate", "--trace", str(bad)), f"{bad} line 2: duration 'x'")
    assert_one_line_error(
        keepwarm("simulate", "--rate", "1/s", "--for", "1m", "--reserved", "1001"),
        "Value '1001' at 'reservedConcurrentExecutions' failed to satisfy constraint",
    )
    assert_one_line_error(
        keepwarm("simulate", "--rate", "1/s", "--for", "1m", "--reuse", "sometimes"),
        "Reuse mode 'sometimes'",
    )


TEMPLATE = """\
Parameters:
  Seconds:
    Type: Number
    Default: 7
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: my-fn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src
      Timeout: !Ref Seconds
      ReservedConcurrentExecutions: 5
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 2
    Metadata:
      keepwarm:
        keep_alive: 30
        max_lifetime: 3600
        reuse: random:0.5
        max_invocations_per_env: 50
"""
TRAFFIC = ("--rate", "1/s", "--for", "10m")


def _project(root: Path) -> Path:
    write_code(root / "src", {"app.py": "def handler(event, context):\n    return 1\n"})
    template = root / "template.yaml"
    template.write_text(TEMPLATE)
    return template


def _model(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    model: dict[str, Any] = json.loads(done.stdout)["model"]
    return model


def test_a_template_function_gives_its_settings(tmp_path: Path) -> None:
    template = _project(tmp_path)
    done = keepwarm("simulate", "Fn", "-t", str(template), *TRAFFIC, "--json")
    assert json.loads(done.stdout)["function"] == {"name": "my-fn", "template": str(template)}
    assert _model(done) | {"duration": "-", "init": "-"} == {
        "duration": "-",
        "init": "-",
        "timeout_s": 7,
        "keep_alive_s": 30.0,
        "max_lifetime_s": 3600.0,
        "reserved_concurrency": 5,
        "provisioned_concurrency": 2,
        "concurrency_limit": 1000,
        "max_invocations_per_env": 50,
        "reuse": "random:0.5",
        "reap_interval_s": 1.0,
    }


def test_options_and_parameter_overrides_win_over_the_template(tmp_path: Path) -> None:
    """The FunctionName too; without -t, ./template.yaml, as for keepwarm invoke."""
    _project(tmp_path)
    options = ("--keep-alive", "2", "--reserved", "1", "--reuse", "always")
    overrides = ("--parameter-overrides", "Seconds=9")
    done = keepwarm("simulate", "my-fn", *TRAFFIC, *options, *overrides, "--json", cwd=tmp_path)
    model = _model(done)
    assert (model["timeout_s"], model["keep_alive_s"], model["reap_interval_s"]) == (9, 2.0, 0.5)
    assert (model["reserved_concurrency"], model["reuse"]) == (1, "always")
    assert (model["provisioned_concurrency"], model["max_invocations_per_env"]) == (2, 50)
    text = keepwarm("simulate", "Fn", *TRAFFIC, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[1] == "function my-fn of template.yaml"
    assert "timeout 7s, keep-alive 30s (reaper every 1s)" in text.stdout.splitlines()[2]


def test_a_template_function_that_cannot_run_is_refused_with_its_reason(tmp_path: Path) -> None:
    template = str(template_with_a_broken_function(tmp_path))
    assert_one_line_error(
        keepwarm("simulate", "Broken", "-t", template, *TRAFFIC),
        f"keepwarm: Function Broken: {TOO_LITTLE_MEMORY}",
    )
    runs = keepwarm("simulate", "Good", "-t", template, *TRAFFIC)
    assert runs.returncode == 0 and "cannot run (skipped)" in runs.stderr
    assert_one_line_error(
        keepwarm("simulate", "Nope", "-t", str(_project(tmp_path / "p")), *TRAFFIC),
        "no function 'Nope' in ",
        "(its functions: my-fn)",
    )


def test_template_usage_errors(tmp_path: Path) -> None:
    template = str(_project(tmp_path))
    assert_one_line_error(
        keepwarm("simulate", "-t", template, *TRAFFIC), "give the FUNCTION of the template"
    )
    assert_usage_error(
        keepwarm("simulate", *TRAFFIC, "--parameter-overrides", "Seconds=9"),
        "--parameter-overrides",
        "applies to a template's FUNCTION only",
    )
    assert_one_line_error(
        keepwarm("simulate", "Fn", *TRAFFIC, cwd=tmp_path / "src"), "Template not found"
    )
