"""``keepwarm serve -t`` with template functions that cannot run: each is served as Failed (409
with its reason) while the others run; ``--watch`` fixes and breaks them one by one and follows
their code directories as the template moves them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from tests.cli.run import keepwarm
from tests.cli.test_cli_errors import assert_one_line_error
from tests.e2e.test_serve_awscli import aws
from tests.lambda_api.kw_server import Server, wait_for

CODE = """
import os
def handler(event, context):
    return {"code": "%s", "v": os.environ.get("MY_V"), "pid": os.getpid()}
"""
NOT_ACTIVE = (
    "The operation cannot be performed at this time. The function is currently in the "
    "following state: Failed. StateReason: "
)


def fn(
    logical: str,
    code_uri: str,
    extra: str = "",
    runtime: str = "python3.12",
    name: str | None = None,
    handler: str = "app.handler",
) -> str:
    """One function resource, named ``logical.lower()`` unless ``name``; ``extra`` lines go
    under Properties."""
    return (
        f"  {logical}:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      FunctionName: {name or logical.lower()}\n      Handler: {handler}\n"
        f"      Runtime: {runtime}\n      CodeUri: {code_uri}\n{extra}"
    )


def write_code(directory: Path, tag: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(CODE % tag)


def write_template(path: Path, *functions: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Resources:\n" + "".join(functions))
    return path


def answer(lam: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    return result


def refusal(lam: Any, name: str) -> str:
    """The message of the 409 an invocation of a Failed function gets."""
    with pytest.raises(lam.exceptions.ResourceConflictException) as caught:
        lam.invoke(FunctionName=name)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    message: str = caught.value.response["Error"]["Message"]
    return message


def failure(lam: Any, name: str) -> str:
    """The 409's message, or "" while the function still runs."""
    try:
        lam.invoke(FunctionName=name)
    except lam.exceptions.ResourceConflictException as exc:
        return str(exc.response["Error"]["Message"])
    return ""


def answer_or_none(lam: Any, name: str) -> dict[str, Any] | None:
    try:
        return answer(lam, name)
    except lam.exceptions.ResourceConflictException:
        return None


def test_functions_that_cannot_run_are_failed_and_the_others_serve(
    start_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    write_code(root / "src", "good")
    template = write_template(
        root / "template.yaml",
        fn("Good", "src/"),
        fn("Missing", "missing/"),
        fn("Typo", "src/", runtime="pyhton3.12"),
        fn("Java", "src/", runtime="java21"),
        fn("Slow", "src/", extra="      Timeout: 901\n"),
    )
    srv: Server = start_server("-t", str(template))
    lam = srv.client()
    assert answer(lam, "good")["code"] == "good"
    missing = f"CodeUri 'missing/' does not exist (looked for {root.resolve() / 'missing'})."
    assert refusal(lam, "missing") == NOT_ACTIVE + missing
    assert refusal(lam, "java") == NOT_ACTIVE + (
        "runtime java21 is not one keepwarm runs (Python 3.9-3.14, Node.js 18-24, provided)."
    )
    typo = lam.get_function_configuration(FunctionName="typo")
    assert (typo["State"], typo["StateReasonCode"]) == ("Failed", "InvalidRuntime")
    assert typo["StateReason"].startswith("Value pyhton3.12 at 'runtime' failed to satisfy")
    assert typo["LastUpdateStatus"] == "Failed"
    slow = lam.get_function(FunctionName="slow")["Configuration"]
    assert (slow["State"], slow["StateReasonCode"]) == ("Failed", "InvalidConfiguration")
    assert "Value '901' at 'timeout'" in slow["StateReason"]
    with pytest.raises(WaiterError, match="terminal failure state"):
        lam.get_waiter("function_active_v2").wait(FunctionName="slow")
    with pytest.raises(lam.exceptions.ResourceConflictException, match="Value '901'"):
        lam.update_function_configuration(FunctionName="slow", Timeout=3)
    location = lam.get_function(FunctionName="missing")["Code"]["Location"]
    with pytest.raises(urllib.error.HTTPError) as nothing:
        urllib.request.urlopen(location, timeout=30)
    assert nothing.value.code == 400  # it has no code, and never zips the server's directory
    listed = sorted(
        (f["FunctionName"], f["Runtime"], f["Handler"]) for f in lam.list_functions()["Functions"]
    )
    assert listed == [  # what the template gives them: they used to be empty when Failed
        ("good", "python3.12", "app.handler"),
        ("java", "java21", "app.handler"),
        ("missing", "python3.12", "app.handler"),
        ("slow", "python3.12", "app.handler"),
        ("typo", "pyhton3.12", "app.handler"),
    ]
    assert (typo["Runtime"], slow["Handler"]) == ("pyhton3.12", "app.handler")
    cli = aws(srv, "invoke", "--function-name", "missing", str(tmp_path / "out.json"), check=False)
    assert cli.returncode != 0 and "(ResourceConflictException)" in cli.stderr
    assert missing in cli.stderr
    for name in ("missing (Missing in the template)", "typo (Typo", "java (Java", "slow (Slow"):
        assert srv.stderr().count(f"keepwarm: function {name}") == 1, srv.stderr()
    assert "keepwarm: serving 1 functions: good" in srv.stderr()


def test_an_error_of_the_template_as_a_whole_still_stops_start_up(tmp_path: Path) -> None:
    write_code(tmp_path / "src", "x")
    template = write_template(
        tmp_path / "template.yaml", fn("One", "src/", name="same"), fn("Two", "x/", name="same")
    )
    done = keepwarm("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "-t", str(template))
    assert_one_line_error(done, "Two functions in the template are named same.")


def test_watch_serves_a_function_once_it_is_fixed(start_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_code(root / "src", "good")
    functions = [
        fn("Good", "src/"),
        fn("Later", "later/"),
        fn("Typo", "src/", runtime="pyhton3.12"),
    ]
    template = write_template(root / "template.yaml", *functions)
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    warm = answer(lam, "good")
    assert "CodeUri 'later/' does not exist" in refusal(lam, "later")
    write_code(root / "later", "fixed")  # the directory appears: the next reload serves it
    assert wait_for(lambda: answer_or_none(lam, "later"), timeout=60)["code"] == "fixed"
    assert "pyhton3.12" in refusal(lam, "typo")
    write_template(template, *functions[:2], fn("Typo", "src/"))
    assert wait_for(lambda: answer_or_none(lam, "typo"), timeout=60)["code"] == "good"
    assert lam.get_function(FunctionName="typo")["Configuration"]["State"] == "Active"
    assert answer(lam, "good")["pid"] == warm["pid"]  # untouched, still warm


def test_watch_breaking_one_function_reloads_the_others(start_server: Any, tmp_path: Path) -> None:
    """It used to refuse the whole reload: the other changes of that save waited for a fix."""
    root = tmp_path / "proj"
    for name in ("a", "b", "c"):
        write_code(root / name, name)
    template = write_template(
        root / "template.yaml", fn("Hello", "a/"), fn("Steady", "b/"), fn("Other", "c/")
    )
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    steady = answer(lam, "steady")
    assert answer(lam, "hello")["v"] is None and answer(lam, "other")["code"] == "c"
    functions = [
        fn("Hello", "a/", extra="      Environment: {Variables: {MY_V: '2'}}\n"),
        fn("Steady", "b/"),
        fn("Other", "c/", runtime="pyhton3.12"),
    ]
    write_template(template, *functions)
    broken = NOT_ACTIVE + "Value pyhton3.12 at 'runtime'"  # one reload, applied in turn

    def applied() -> bool:
        return answer(lam, "hello")["v"] == "2" and failure(lam, "other").startswith(broken)

    wait_for(applied, timeout=60)
    assert answer(lam, "steady")["pid"] == steady["pid"]
    functions[2] = fn("Other", "c/", runtime="pyhton3.12", handler="app.other")
    write_template(template, *functions)  # still Failed, for the same reason: shown, not said

    def handler_shown() -> bool:
        return str(lam.get_function(FunctionName="other")["Configuration"]["Handler"]) == (
            "app.other"
        )

    wait_for(handler_shown, timeout=60)
    write_code(root / "a", "a2")  # another reload: the Failed one is not reported again
    wait_for(lambda: answer(lam, "hello")["code"] == "a2", timeout=60)
    assert srv.stderr().count("keepwarm: function other (Other in the template) cannot run") == 1, (
        srv.stderr()
    )


def test_watch_follows_a_code_directory_the_template_moves(
    start_server: Any, tmp_path: Path
) -> None:
    """The watched directories were computed once at start: code outside the template's
    directory that a reload brought in was never watched."""
    for name in ("one", "two"):
        write_code(tmp_path / name, name)
    template = write_template(tmp_path / "tpl" / "template.yaml", fn("Moving", "../one/"))
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    assert answer(lam, "moving")["code"] == "one"
    write_template(template, fn("Moving", "../two/"))
    wait_for(lambda: answer(lam, "moving")["code"] == "two", timeout=60)
    write_code(tmp_path / "two", "two-b")
    wait_for(lambda: answer(lam, "moving")["code"] == "two-b", timeout=60)


def test_watch_follows_the_code_of_a_function_the_template_adds(
    start_server: Any, tmp_path: Path
) -> None:
    for name in ("one", "three"):
        write_code(tmp_path / name, name)
    template = write_template(tmp_path / "tpl" / "template.yaml", fn("First", "../one/"))
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    write_template(template, fn("First", "../one/"), fn("Added", "../three/"))
    wait_for(lambda: code_or_none(lam, "added") == "three", timeout=60)
    write_code(tmp_path / "three", "three-b")
    wait_for(lambda: answer(lam, "added")["code"] == "three-b", timeout=60)


def code_or_none(lam: Any, name: str) -> str | None:
    """None while the function does not exist yet."""
    try:
        return str(answer(lam, name)["code"])
    except lam.exceptions.ResourceNotFoundException:
        return None


def test_watch_serves_the_alias_of_a_function_the_template_adds(
    start_server: Any, tmp_path: Path
) -> None:
    """Its AutoPublishAlias version used to get no environments: the alias answered 404."""
    write_code(tmp_path / "src", "one")
    template = write_template(tmp_path / "template.yaml", fn("First", "src/"))
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    live = "      AutoPublishAlias: live\n"
    write_template(template, fn("First", "src/"), fn("Added", "src/", extra=live))
    wait_for(lambda: code_or_none(lam, "added") == "one", timeout=60)
    out = lam.invoke(FunctionName="added", Qualifier="live")
    assert out["ExecutedVersion"] == "1" and json.loads(out["Payload"].read())["code"] == "one"


def test_watch_keeps_the_versions_of_a_function_while_it_is_failed(
    start_server: Any, tmp_path: Path
) -> None:
    """Its published versions (snapshots of its code) and alias outlive the Failed spell: once
    fixed, the alias answers again from the version it had, without a new publish."""
    write_code(tmp_path / "src", "one")
    live = "      AutoPublishAlias: live\n"
    template = write_template(tmp_path / "template.yaml", fn("Fn", "src/", extra=live))
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    assert lam.invoke(FunctionName="fn", Qualifier="live")["ExecutedVersion"] == "1"
    write_template(template, fn("Fn", "src/", extra=live, runtime="pyhton3.12"))
    wait_for(lambda: failure(lam, "fn").startswith(NOT_ACTIVE), timeout=60)
    with pytest.raises(lam.exceptions.ResourceConflictException, match=r"pyhton3\.12"):
        lam.publish_version(FunctionName="fn")
    failed = lam.get_function_configuration(FunctionName="fn")
    assert (failed["State"], failed["CodeSize"]) == ("Failed", 0)  # no code was read for it
    versions = lam.list_versions_by_function(FunctionName="fn")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    write_template(template, fn("Fn", "src/", extra=live))

    def served() -> dict[str, Any] | None:
        try:
            return lam.invoke(FunctionName="fn", Qualifier="live")  # type: ignore[no-any-return]
        except lam.exceptions.ResourceConflictException:
            return None

    out = wait_for(served, timeout=60)
    assert out["ExecutedVersion"] == "1" and json.loads(out["Payload"].read())["code"] == "one"
    assert lam.get_alias(FunctionName="fn", Name="live")["FunctionVersion"] == "1"


def test_a_restart_with_the_function_broken_keeps_its_versions(
    start_server: Any, tmp_path: Path
) -> None:
    """The versions a template function published are stored; a start at which it cannot run
    lists it as Failed with them, and does not forget them for the next start."""
    write_code(tmp_path / "src", "one")
    live = "      AutoPublishAlias: live\n"
    template = write_template(tmp_path / "template.yaml", fn("Fn", "src/", extra=live))
    data = tmp_path / "data"
    first: Server = start_server("-t", str(template), data_dir=data)
    assert first.client().invoke(FunctionName="fn", Qualifier="live")["ExecutedVersion"] == "1"
    first.stop()
    write_template(template, fn("Fn", "src/", extra=live, runtime="pyhton3.12"))
    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    assert "pyhton3.12" in refusal(lam, "fn")
    versions = lam.list_versions_by_function(FunctionName="fn")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    second.stop()
    write_template(template, fn("Fn", "src/", extra=live))
    third: Server = start_server("-t", str(template), data_dir=data)
    out = third.client().invoke(FunctionName="fn", Qualifier="live")
    assert out["ExecutedVersion"] == "1" and json.loads(out["Payload"].read())["code"] == "one"
