"""Errors as a user meets them: one ``keepwarm: ...`` line or a usage error, exit 2, no traceback.

Also: user text in messages (paths, names, Lambda's constraint texts) printed as is, never as
Rich markup, and a template's logical id accepted where its FunctionName is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.run import assert_one_line_error, assert_usage_error, keepwarm
from tests.lambda_api.kw_server import Server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HANDLER = 'def handler(event, context):\n    return "[/x] [bold]not bold"\n'


def template(tmp_path: Path, *, names: tuple[str, ...] = ("F",), extra: str = "") -> Path:
    """A template of Python functions that all return a payload full of Rich markup."""
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(HANDLER)
    resources = "".join(
        f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      CodeUri: {code}\n      Handler: app.handler\n      Runtime: python3.12\n{extra}"
        for name in names
    )
    path = tmp_path / "template.yaml"
    path.write_text(f"Resources:\n{resources}")
    return path


# B4: square brackets in messages and user values are text, not markup.


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", "enum value set: [nodejs18.x, "),
        (
            "      Environment:\n        Variables:\n          1BAD: x\n",
            "pattern: [a-zA-Z]([a-zA-Z0-9_])+",
        ),
    ],
    ids=["runtime-list", "env-var-pattern"],
)
def test_lambda_constraint_texts_keep_their_brackets(
    tmp_path: Path, extra: str, expected: str
) -> None:
    path = template(tmp_path, extra=extra)
    if not extra:
        path.write_text(path.read_text().replace("python3.12", "cobol9"))
    done = keepwarm("invoke", "F", "-t", str(path), "--data-dir", str(tmp_path / "d"))
    assert_one_line_error(done, expected)


@pytest.mark.parametrize(
    ("name", "template_name", "expected"),
    [("F[/x]", "template.yaml", "function:F[/x]:"), ("F", "nope[/b].yaml", "nope[/b].yaml")],
    ids=["function-name", "template-path"],
)
def test_user_values_with_closing_tags_do_not_crash(
    tmp_path: Path, name: str, template_name: str, expected: str
) -> None:
    template(tmp_path)
    path = tmp_path / template_name
    done = keepwarm("invoke", name, "-t", str(path), "--data-dir", str(tmp_path / "d"))
    assert_one_line_error(done, expected)


def test_demo_prints_payloads_and_paths_as_text(tmp_path: Path) -> None:
    path = template(tmp_path, names=("Greeting", "Cache", "Payment"))
    tmp = tmp_path / "t[" / "b]"  # the log directory's path then contains "[/b]"
    tmp.mkdir(parents=True)
    done = keepwarm("demo", "-t", str(path), "--keep-alive", "0", tmp=tmp)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"[/x] [bold]not bold"') == 8
    assert f"{tmp}/keepwarm-demo-" in done.stdout


# B5: usage errors end in a message and exit 2, not a traceback.


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-e", "{tmp}/missing.json"], "cannot read the event file {tmp}/missing.json"),
        (["-e", "{tmp}/latin1.json"], "is not UTF-8 text"),
        (["-e", "{tmp}"], "cannot read the event file {tmp}: Is a directory"),
    ],
    ids=["missing", "not-utf8", "directory"],
)
def test_unreadable_event_file_is_a_usage_error(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "latin1.json").write_bytes(b'{"name": "Jos\xe9"}')
    path = template(tmp_path)
    options = [a.format(tmp=tmp_path) for a in args]
    done = keepwarm("invoke", "F", "-t", str(path), *options)
    assert_usage_error(done, expected.format(tmp=tmp_path))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--reuse", "bogus"], "Reuse mode 'bogus' is not valid"),
        (["--reuse", "random:2"], "Reuse mode 'random:2' is not valid"),
        (["--endpoint", "http://127.0.0.1:1"], "Cannot reach http://127.0.0.1:1"),
        (["--endpoint", "notaurl"], "Cannot reach notaurl"),
        (["--endpoint", "ftp://host"], "Not an HTTP endpoint: ftp://host"),
        (["--data-dir", "/dev/null/x"], "Not a directory: /dev/null/x"),
    ],
    ids=["reuse-bogus", "reuse-p-above-1", "refused", "not-a-url", "not-http", "data-dir"],
)
def test_invoke_errors_are_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    done = keepwarm("invoke", "F", "-t", str(template(tmp_path)), *args)
    assert_one_line_error(done, expected)


@pytest.mark.parametrize("command", [("invoke", "F"), ("serve", "--port", "0")])
def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path: Path, command: tuple[str]) -> None:
    """It said only "File exists: PATH" (mkdir's error), which does not say what is wrong."""
    path = template(tmp_path)
    done = keepwarm(*command, "-t", str(path), "--data-dir", str(path))
    assert_one_line_error(done, f"keepwarm: --data-dir is not a directory: {path}")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "Template not found: {tmp}/template.yaml"),
        ("Resources: [unclosed\n", "is not valid YAML"),
        ("example", "template.yaml has no Cache, Payment."),
    ],
    ids=["missing", "bad-yaml", "no-example-functions"],
)
def test_demo_template_errors_leave_no_directory(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    path = tmp_path / "template.yaml"
    if content == "example":
        template(tmp_path, names=("Greeting",))
    elif content is not None:
        path.write_text(content)
    done = keepwarm("demo", "-t", str(path), tmp=tmp)
    assert_one_line_error(done, expected.format(tmp=tmp_path))
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf"])
def test_demo_keep_alive_must_be_finite_and_not_negative(tmp_path: Path, value: str) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = keepwarm("demo", "--keep-alive", value, tmp=tmp)
    assert_usage_error(done, "--keep-alive", "finite number of seconds")
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "-1"], "--port"),
        (["--keep-alive", "-1"], "finite number of seconds"),
        (["--shutdown-timeout", "inf"], "finite number of seconds"),
        (["--activation-delay", "nan"], "finite number of seconds"),
        (["--async-time-scale", "0"], "finite number above 0"),
        (["--log-level", "bogus"], "--log-level must be one of"),
    ],
    ids=[
        "port-high",
        "port-negative",
        "keep-alive",
        "shutdown",
        "activation",
        "time-scale",
        "log-level",
    ],
)
def test_serve_refuses_bad_option_values(tmp_path: Path, args: list[str], expected: str) -> None:
    done = keepwarm("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), *args)
    assert_usage_error(done, expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-t", "{tmp}/missing.yaml"], "Template not found: {tmp}/missing.yaml"),
        (["-t", "{tmp}/bad.yaml"], "is not valid YAML"),
        (["--data-dir", "/dev/null/x"], "Not a directory: /dev/null/x"),
        (["--reuse", "bogus"], "Reuse mode 'bogus' is not valid"),
    ],
    ids=["template-missing", "template-bad-yaml", "data-dir", "reuse"],
)
def test_serve_fails_in_one_line_before_starting(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "bad.yaml").write_text("a: [b\n")
    options = ["--data-dir", str(tmp_path / "d"), *(a.format(tmp=tmp_path) for a in args)]
    done = keepwarm("serve", "--port", "0", *options)
    assert_one_line_error(done, expected.format(tmp=tmp_path))
    assert "startup failed" not in done.stderr + done.stdout


@pytest.mark.parametrize("store", ["garbage", "directory"])
def test_events_with_an_unreadable_store(tmp_path: Path, store: str) -> None:
    path = tmp_path / "events.db"
    if store == "directory":
        path.mkdir()
    else:
        path.write_text("this is not a database\n" * 100)
    done = keepwarm("events", "--data-dir", str(tmp_path))
    assert_one_line_error(done, f"cannot read the event store {path}")


# B6: a resource that sets FunctionName is reachable by its logical id too.


@pytest.mark.parametrize(
    ("function_name", "physical"),
    [("physical-name", "physical-name"), ('!Sub "${AWS::Region}-fn"', "us-east-1-fn")],
    ids=["literal", "sub"],
)
def test_invoke_by_logical_id_and_by_function_name(
    tmp_path: Path, function_name: str, physical: str
) -> None:
    path = template(tmp_path, names=("Logical",), extra=f"      FunctionName: {function_name}\n")
    for name in ("Logical", physical):
        done = keepwarm("invoke", name, "-t", str(path), "-q", "--data-dir", str(tmp_path / "d"))
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert '"[/x] [bold]not bold"' in done.stdout


# invoke --endpoint: the answer's payload is bytes, which json.dumps refused.


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "srv", "-t", str(EXAMPLES / "template.yaml")).start()
    yield server
    server.stop()


def test_invoke_through_an_endpoint(served: Server) -> None:
    done = keepwarm("invoke", "Greeting", "--endpoint", served.url)
    assert done.returncode == 0, done.stderr
    assert '"StatusCode": 200' in done.stdout and '"Payload": "\\"hello\\""' in done.stdout
    missing = keepwarm("invoke", "Nope", "--endpoint", served.url)
    assert_one_line_error(missing, "ResourceNotFoundException", "Function not found")


@pytest.mark.parametrize(
    "local",
    [
        ["--check-leaks"],
        ["--reuse", "never"],
        ["--max-invocations-per-env", "1"],
        ["--concurrency", "2"],
    ],
)
def test_local_only_options_are_refused_with_an_endpoint(local: list[str]) -> None:
    """The server decides these for itself: given with --endpoint they were silently ignored."""
    done = keepwarm("invoke", "Greeting", "--endpoint", "http://127.0.0.1:1", *local)
    assert_usage_error(done, f"{local[0]} applies to local runs only")


def test_several_local_only_options_are_named_together() -> None:
    local = ["--check-leaks", "--reuse", "never", "--concurrency", "2"]
    done = keepwarm("invoke", "Greeting", "--endpoint", "http://127.0.0.1:1", *local)
    assert_usage_error(done, "--reuse, --check-leaks and --concurrency apply to local runs only")
