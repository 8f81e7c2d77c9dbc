"""``keepwarm invoke`` and ``keepwarm demo`` as a user runs them: real subprocesses."""

from __future__ import annotations

from pathlib import Path

from tests.cli.run import keepwarm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_invoke_shows_cold_then_warm_with_logs(tmp_path: Path) -> None:
    done = keepwarm(
        "invoke",
        "Greeting",
        "-t",
        str(EXAMPLES / "template.yaml"),
        "--times",
        "2",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("cold") < out.index('"hello"') < out.index("warm") < out.index('"it\'s me"')
    assert out.count("REPORT RequestId:") == 2 and "Init Duration" in out


def test_invoke_concurrency_uses_separate_environments(tmp_path: Path) -> None:
    done = keepwarm(
        "invoke",
        "Counter",
        "-t",
        str(EXAMPLES / "template.yaml"),
        "--concurrency",
        "3",
        "-q",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("cold") == 3 and "warm" not in done.stdout


def test_invoke_exits_non_zero_on_function_error(tmp_path: Path) -> None:
    event = EXAMPLES / "events" / "payment-invalid.json"
    done = keepwarm(
        "invoke",
        "Payment",
        "-t",
        str(EXAMPLES / "template.yaml"),
        "-e",
        str(event),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 1
    assert "InvalidCardError" in done.stdout


def test_invoke_rejects_bad_event_json(tmp_path: Path) -> None:
    done = keepwarm("invoke", "Greeting", "-t", str(EXAMPLES / "template.yaml"), "--payload", "{")
    assert done.returncode == 2
    assert "not valid JSON" in done.stderr + done.stdout


def test_invoke_unknown_function_is_a_clear_error(tmp_path: Path) -> None:
    done = keepwarm(
        "invoke", "Nope", "-t", str(EXAMPLES / "template.yaml"), "--data-dir", str(tmp_path / "d")
    )
    assert done.returncode == 2
    assert done.stderr.startswith("keepwarm: Function not found")


def test_version_and_help() -> None:
    assert keepwarm("--version").stdout.strip().startswith("keepwarm ")
    help_text = keepwarm("--help").stdout
    for command in ("invoke", "demo", "audit"):
        assert command in help_text


def test_host_packages_lets_a_function_import_the_server_s_packages(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("import yaml\n\ndef handler(e, c):\n    return 'ok'\n")
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n"
    )
    common = ("invoke", "Fn", "-t", str(tmp_path / "template.yaml"), "-q")
    strict = keepwarm(*common, "--data-dir", str(tmp_path / "d1"))
    assert strict.returncode == 1 and "Runtime.ImportModuleError" in strict.stdout
    loose = keepwarm(*common, "--host-packages", "--data-dir", str(tmp_path / "d2"))
    assert loose.returncode == 0 and '"ok"' in loose.stdout, loose.stderr
