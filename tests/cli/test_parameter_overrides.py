"""``--parameter-overrides`` in SAM CLI's syntax, on every command that reads a template.

The parser's cases run as plain calls; what a function sees runs through the real CLI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer

from keepwarm.cli.parameter_overrides import merged, parse_word
from tests.cli.run import assert_usage_error, keepwarm

TEMPLATE = """\
Parameters:
  Greeting:
    Type: String
    Default: hello
  Stage:
    Type: String
    Default: dev
  Subnets:
    Type: CommaDelimitedList
    Default: a
Resources:
{functions}"""
FUNCTION = """\
  {name}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          GREETING: !Ref Greeting
          STAGE: !Sub "stage-${{Stage}}"
          SUBNETS: !Join [";", !Ref Subnets]
"""
HANDLER = """\
import os

count = 0


def handler(event, context):
    global count
    count += 1
    names = ("GREETING", "STAGE", "SUBNETS")
    return {"count": count, **{name.lower(): os.environ[name] for name in names}}
"""
DEFAULTS = {"greeting": "hello", "stage": "stage-dev", "subnets": "a"}


def project(tmp_path: Path, names: tuple[str, ...] = ("Fn",)) -> Path:
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(HANDLER)
    functions = "".join(FUNCTION.format(name=name, code=code) for name in names)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.format(functions=functions))
    return path


def invoke(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return keepwarm(
        "invoke", "Fn", "-t", str(project(tmp_path)), "-q", "--data-dir", str(tmp_path / "d"), *args
    )


def payload(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    seen: dict[str, str] = json.loads(done.stdout.splitlines()[-1])
    del seen["count"]
    return seen


# The syntax, word by word (one word = one argv element).


@pytest.mark.parametrize(
    ("word", "pairs"),
    [
        ("A=1 B=2", [("A", "1"), ("B", "2")]),
        (
            "ParameterKey=A,ParameterValue=1  ParameterKey=B,ParameterValue=x,y",
            [("A", "1"), ("B", "x,y")],
        ),
        ("ParameterKey=A,ParameterValue=1 B=2", [("A", "1"), ("B", "2")]),
        ('Name="a b" Other=c', [("Name", "a b"), ("Other", "c")]),
        ("Name='a b'", [("Name", "a b")]),
        ('ParameterKey=Name,ParameterValue="a b"', [("Name", "a b")]),
        ("Name=a\\ b", [("Name", "a b")]),
        ('Name="say \\"hi\\""', [("Name", 'say "hi"')]),
        ("Name=it's", [("Name", "it's")]),
        ("Url=https://x/?a=b", [("Url", "https://x/?a=b")]),
        ('"Quoted"=1', [("Quoted", "1")]),
        ('Empty="" Bare=', [("Empty", ""), ("Bare", "")]),
        ("", []),
    ],
)
def test_accepted_words(word: str, pairs: list[tuple[str, str]]) -> None:
    assert list(parse_word(word).pairs) == pairs


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("Foo", "'Foo' is not Name=Value or ParameterKey=Name,ParameterValue=Value (the option"),
        ("A=1 there", "'there' is not Name=Value or ParameterKey=Name,ParameterValue=Value (a val"),
        ("My-Param=x", "'My-Param=x': 'My-Param' is not a parameter name"),
        ("=x", "'=x': '' is not a parameter name"),
        ('Name="a b', "'Name=\"a b': the value's closing \" is missing"),
        ("Name='a b", "'Name='a b': the value's closing ' is missing"),
        ('Name="a"b', "'Name=\"a\"b' is not Name=Value"),
        ("ParameterKey=A", "'ParameterKey=A' is not ParameterKey=Name,ParameterValue=Value"),
        ("ParameterKey=A,ParameterValue", "'ParameterKey=A,ParameterValue' is not ParameterKey="),
    ],
)
def test_malformed_words_name_the_bad_piece(word: str, message: str) -> None:
    with pytest.raises(typer.BadParameter) as refused:
        parse_word(word)
    assert refused.value.message.startswith(message)


def test_later_entries_win() -> None:
    assert merged([parse_word("A=1 B=2"), parse_word("A=3")]) == {"A": "3", "B": "2"}


# keepwarm invoke: what the function sees.


def test_invoke_without_overrides_sees_the_defaults(tmp_path: Path) -> None:
    assert payload(invoke(tmp_path)) == DEFAULTS


@pytest.mark.parametrize(
    "args",
    [
        ["--parameter-overrides", "Greeting=hi Stage=prod Subnets=x,y"],
        ["--parameter-overrides", "Greeting=hi", "Stage=prod", "Subnets=x,y"],
        ["--parameter-overrides=Greeting=hi", "Stage=prod", "Subnets=x,y"],
        ["--parameter-overrides", "Greeting=hi", "--parameter-overrides", "Stage=prod Subnets=x,y"],
        [
            "--parameter-overrides",
            "ParameterKey=Greeting,ParameterValue=hi ParameterKey=Stage,ParameterValue=prod",
            "ParameterKey=Subnets,ParameterValue=x,y",
        ],
    ],
    ids=["one-word", "words", "equals", "repeated", "long-form"],
)
def test_invoke_with_overrides(tmp_path: Path, args: list[str]) -> None:
    seen = payload(invoke(tmp_path, *args))
    assert seen == {"greeting": "hi", "stage": "stage-prod", "subnets": "x;y"}


@pytest.mark.parametrize(
    ("word", "greeting"),
    [('Greeting="hi there"', "hi there"), ("Greeting='it is'", "it is"), ("Greeting=a\\ b", "a b")],
)
def test_a_quoted_value_keeps_its_spaces(tmp_path: Path, word: str, greeting: str) -> None:
    seen = payload(invoke(tmp_path, "--parameter-overrides", word, "Stage=x"))
    assert seen == {**DEFAULTS, "greeting": greeting, "stage": "stage-x"}


def test_an_undeclared_parameter_is_accepted_with_a_warning(tmp_path: Path) -> None:
    """As ``sam local`` does (``sam deploy`` would refuse it)."""
    done = invoke(tmp_path, "--parameter-overrides", "Stage=prod Stgae=typo")
    assert payload(done) == {**DEFAULTS, "stage": "stage-prod"}
    assert "Parameter Stgae is overridden but the template declares no such parameter." in (
        done.stderr
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Foo"], "'Foo' is not Name=Value or ParameterKey=Name,ParameterValue=Value"),
        (["Greeting=hi there"], "'there' is not Name=Value"),
        (["My-Param=1"], "'My-Param' is not a parameter name"),
        (['Greeting="a b'], "the value's closing \" is missing"),
        (["ParameterKey=Greeting"], "'ParameterKey=Greeting' is not ParameterKey=Name,Param"),
        (["[/b]"], "'[/b]' is not Name=Value"),
        ([], "requires an argument"),
    ],
    ids=["no-equals", "unquoted-space", "bad-name", "unclosed", "long-form", "markup", "missing"],
)
def test_malformed_overrides_are_usage_errors(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    done = invoke(tmp_path, "--parameter-overrides", *args)
    assert_usage_error(done, "--parameter-overrides", expected)


def test_the_option_takes_the_words_up_to_the_next_option(tmp_path: Path) -> None:
    """As SAM CLI's does: FUNCTION after it is taken as an override, not as FUNCTION."""
    path = str(project(tmp_path))
    done = keepwarm("invoke", "--parameter-overrides", "Stage=x", "Fn", "-t", path)
    assert_usage_error(done, "'Fn' is not Name=Value", "up to the next option")
    data = str(tmp_path / "d")
    done = keepwarm(
        "invoke", "-t", path, "--parameter-overrides", "Stage=x", "-q", "Fn", "--data-dir", data
    )
    assert payload(done) == {**DEFAULTS, "stage": "stage-x"}


def test_overrides_are_refused_where_no_template_is_read(tmp_path: Path) -> None:
    remote = keepwarm(
        "invoke", "Fn", "--endpoint", "http://127.0.0.1:1", "--parameter-overrides", "A=1"
    )
    assert_usage_error(remote, "--parameter-overrides applies to local runs only")
    serve = keepwarm(
        "serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--parameter-overrides", "A=1"
    )
    assert_usage_error(serve, "--parameter-overrides", "needs -t/--template")
    static = keepwarm("audit", "--parameter-overrides", "A=1", "--", str(tmp_path))
    assert_usage_error(static, "--parameter-overrides applies to --replay only")


# The other commands that read a template.


def test_audit_replay_runs_the_overridden_template(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n{}\n")
    args = ("audit", "--replay", str(events), "-f", "Fn", "--format", "json")
    done = keepwarm(*args, "-t", str(project(tmp_path)), "--parameter-overrides", "Stage=prod")
    assert done.returncode == 1, done.stderr  # the counter depends on reuse
    cold = json.loads(done.stdout)["differing"][0]["outcomes"]["cold"]
    assert cold == {"count": 1, **DEFAULTS, "stage": "stage-prod"}


def test_demo_runs_the_overridden_template(tmp_path: Path) -> None:
    path = project(tmp_path, names=("Greeting", "Cache", "Payment"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = keepwarm(
        "demo",
        "-t",
        str(path),
        "--keep-alive",
        "0",
        "--parameter-overrides",
        "Greeting=demo",
        tmp=tmp,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"greeting": "demo"') == 8 and '"greeting": "hello"' not in done.stdout
