"""``keepwarm serve -t template.yaml [--watch]``: template functions over the API, hot reload."""

from __future__ import annotations

import io
import json
import textwrap
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_api.kw_server import Server, wait_for

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: hello
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
"""
CODE = """
import os
count = 0
def handler(event, context):
    global count
    count += 1
    return {"count": count, "code": "%s", "pid": os.getpid()}
"""


def project(root: Path, tag: str) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    (root / "src" / "app.py").write_text(CODE % tag)
    return root / "template.yaml"


def call(lam: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(lam.invoke(FunctionName="hello")["Payload"].read())
    return result


def test_template_functions_are_listed_and_invocable(start_server: Any, tmp_path: Path) -> None:
    template = project(tmp_path / "proj", "v1")
    srv: Server = start_server("-t", str(template))
    serve_lam = srv.client()
    names = [f["FunctionName"] for f in serve_lam.list_functions()["Functions"]]
    assert names == ["hello"]
    config = serve_lam.get_function(FunctionName="hello")["Configuration"]
    assert config["Handler"] == "app.handler" and config["State"] == "Active"
    assert [call(serve_lam)["count"] for _ in range(3)] == [1, 2, 3]


def test_a_template_function_s_code_location_downloads_its_directory(
    start_server: Any, tmp_path: Path
) -> None:
    template = project(tmp_path / "proj", "v1")
    (tmp_path / "proj" / "src" / "lib").mkdir()
    (tmp_path / "proj" / "src" / "lib" / "util.py").write_text("X = 1\n")
    srv: Server = start_server("-t", str(template))
    location = srv.client().get_function(FunctionName="hello")["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as resp:
        package = zipfile.ZipFile(io.BytesIO(resp.read()))
    assert sorted(package.namelist()) == ["app.py", "lib/util.py"]
    assert package.read("app.py").decode() == CODE % "v1"
    wrong = location.rsplit("/", 1)[0] + "/" + "0" * 64 + ".zip"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(wrong, timeout=30)
    assert err.value.code == 400 and b"No such code package." in err.value.read()


def test_watch_reloads_on_the_next_cold_start(start_server: Any, tmp_path: Path) -> None:
    template = project(tmp_path / "proj", "v1")
    srv: Server = start_server("-t", str(template), "--watch")
    serve_lam = srv.client()
    first, second = call(serve_lam), call(serve_lam)
    assert (first["count"], second["count"], first["code"]) == (1, 2, "v1")
    assert first["pid"] == second["pid"]  # warm state kept: no reload per request
    (template.parent / "src" / "app.py").write_text(CODE % "v2")
    fresh = wait_for(lambda: (r := call(serve_lam))["code"] == "v2" and r, timeout=30)
    assert fresh["count"] == 1  # a cold start on the new code
    assert call(serve_lam) == {**fresh, "count": 2}  # and warm again afterwards


def test_api_updates_to_a_template_function_last_until_the_next_reload(
    start_server: Any, tmp_path: Path
) -> None:
    """As ``sam deploy`` overwrites what was changed outside the stack: any reload redeploys
    the template's definition, even one for an edit of another function."""
    template = project(tmp_path / "proj", "v1")
    template.write_text(template.read_text() + GONE)
    data = tmp_path / "data"
    srv: Server = start_server("-t", str(template), "--watch", data_dir=data)
    lam = srv.client()
    _update_through_the_api(lam)
    template.write_text(template.read_text() + "      Timeout: 7\n")  # only Gone's Timeout
    wait_for(lambda: call(lam)["code"] == "v1", timeout=30)
    assert lam.get_function_configuration(FunctionName="hello")["Timeout"] == 3
    _update_through_the_api(lam)
    srv.stop()
    lam = start_server("-t", str(template), data_dir=data).client()
    assert call(lam)["code"] == "v1"
    assert lam.get_function_configuration(FunctionName="hello")["Timeout"] == 3


def _update_through_the_api(lam: Any) -> None:
    waiter = lam.get_waiter("function_updated_v2")
    lam.update_function_configuration(FunctionName="hello", Timeout=10)
    waiter.wait(FunctionName="hello", WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("app.py", CODE % "api")
    lam.update_function_code(FunctionName="hello", ZipFile=package.getvalue())
    waiter.wait(FunctionName="hello", WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    assert call(lam)["code"] == "api"
    assert lam.get_function_configuration(FunctionName="hello")["Timeout"] == 10


GREETING_TEMPLATE = (
    TEMPLATE
    + """      Environment:
        Variables:
          GREETING: !Ref Greeting
Parameters:
  Greeting:
    Type: String
    Default: hello
"""
)
GREETING_CODE = CODE.replace("os.getpid()", 'os.getpid(), "greeting": os.environ["GREETING"]')


def test_parameter_overrides_hold_at_start_and_after_a_watch_reload(
    start_server: Any, tmp_path: Path
) -> None:
    template = project(tmp_path / "proj", "v1")
    template.write_text(textwrap.dedent(GREETING_TEMPLATE))
    code = template.parent / "src" / "app.py"
    code.write_text(GREETING_CODE % "v1")
    srv: Server = start_server(
        "-t", str(template), "--watch", "--parameter-overrides", 'Greeting="hi there"'
    )
    lam = srv.client()
    variables = lam.get_function_configuration(FunctionName="hello")["Environment"]["Variables"]
    assert variables == {"GREETING": "hi there"}
    assert call(lam)["greeting"] == "hi there"
    code.write_text(GREETING_CODE % "v2")
    fresh = wait_for(lambda: (r := call(lam))["code"] == "v2" and r, timeout=30)
    assert (fresh["count"], fresh["greeting"]) == (1, "hi there")


GONE = """
  Gone:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: gone
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
"""
TWO = TEMPLATE.rstrip("\n") + "{reserved}" + GONE  # Hello from TEMPLATE, then Gone


def test_watch_applies_template_only_edits_and_removals(start_server: Any, tmp_path: Path) -> None:
    """Edits that touch neither code nor the Lambda fields (reserved concurrency here) reload
    too, and a function deleted from the template stops being served."""
    template = project(tmp_path / "proj", "v1")
    template.write_text(textwrap.dedent(TWO.format(reserved="")))
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    assert call(lam)["count"] == 1 and lam.invoke(FunctionName="gone")["StatusCode"] == 200
    only_hello = TWO.format(reserved="\n      ReservedConcurrentExecutions: 0").split("  Gone:")[0]
    template.write_text(textwrap.dedent(only_hello))

    def throttled_and_gone() -> bool:
        try:
            lam.invoke(FunctionName="hello")
            return False
        except lam.exceptions.TooManyRequestsException:
            pass
        try:
            lam.invoke(FunctionName="gone")
        except lam.exceptions.ResourceNotFoundException:
            return True
        return False

    wait_for(throttled_and_gone, timeout=30)
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["hello"]


def test_an_event_invoke_config_set_on_a_template_function_survives_a_restart(
    start_server: Any, tmp_path: Path
) -> None:
    template = project(tmp_path / "proj", "v1")
    data = tmp_path / "data"
    first: Server = start_server("-t", str(template), data_dir=data)
    first.client().put_function_event_invoke_config(
        FunctionName="hello",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:0:q"}},
    )
    first.stop()
    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    config = lam.get_function_event_invoke_config(FunctionName="hello")
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == "arn:aws:sqs:us-east-1:0:q"
    lam.delete_function(FunctionName="hello")  # the template brings it back, without settings
    second.stop()
    third: Server = start_server("-t", str(template), data_dir=data)
    configs = third.client().list_function_event_invoke_configs(FunctionName="hello")
    assert configs["FunctionEventInvokeConfigs"] == []


ASYNC_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Failing:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: failing
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt Queue.Arn
  Dlq:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: dlq
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      DeadLetterQueue:
        Type: SQS
        TargetArn: arn:aws:sqs:us-east-1:000000000000:dead
      EventInvokeConfig:
        MaximumRetryAttempts: 0
"""


def test_sam_event_invoke_config_and_dead_letter_queue_apply(
    start_server: Any, tmp_path: Path
) -> None:
    from tests.asyncq.test_async_invoke import events_cli

    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler(e, c):\n    raise ValueError('no')\n")
    (root / "template.yaml").write_text(textwrap.dedent(ASYNC_TEMPLATE))
    srv: Server = start_server("-t", str(root / "template.yaml"), "--async-time-scale", "0.001")
    lam = srv.client()
    config = lam.get_function_event_invoke_config(FunctionName="failing")
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == "${Queue.Arn}"
    dead = "arn:aws:sqs:us-east-1:000000000000:dead"
    assert lam.get_function(FunctionName="dlq")["Configuration"]["DeadLetterConfig"] == {
        "TargetArn": dead
    }
    for name in ("failing", "dlq"):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')
    store = wait_for(lambda: (s := events_cli(srv.data_dir)) and len(s["dead_letters"]) == 2 and s)
    letters = {d["function"]: d for d in store["dead_letters"]}
    assert letters["failing"]["target"] == "${Queue.Arn}"
    assert letters["failing"]["body"]["requestContext"]["approximateInvokeCount"] == 1
    assert (letters["dlq"]["target"], letters["dlq"]["body"]) == (dead, {"n": 1})


def test_auto_publish_alias_publishes_version_1_behind_the_alias(
    start_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    project(root, "v1")
    text = (root / "template.yaml").read_text()
    (root / "template.yaml").write_text(text + "      AutoPublishAlias: live\n")
    srv: Server = start_server("-t", str(root / "template.yaml"))
    lam = srv.client()
    assert lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "1"
    versions = [
        v["Version"] for v in lam.list_versions_by_function(FunctionName="hello")["Versions"]
    ]
    assert versions == ["$LATEST", "1"]
    out = lam.invoke(FunctionName="hello", Qualifier="live")
    assert out["ExecutedVersion"] == "1" and json.loads(out["Payload"].read())["code"] == "v1"


LAYERED = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: lay/
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: hello
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Layers: [!Ref Shared]
      AutoPublishAlias: live
"""


def _layered(root: Path, content: str) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "lay" / "python").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app.py").write_text(
        "import lmod\n\ndef handler(event, context):\n    return lmod.V\n"
    )
    (root / "lay" / "python" / "lmod.py").write_text(f"V = {content!r}\n")
    (root / "template.yaml").write_text(textwrap.dedent(LAYERED))
    return root / "template.yaml"


def _runs(lam: Any, qualifier: str) -> tuple[str, Any]:
    out = lam.invoke(FunctionName="hello", Qualifier=qualifier)
    return out["ExecutedVersion"], json.loads(out["Payload"].read())


def test_a_published_version_keeps_the_layer_content_it_was_published_with(
    start_server: Any, tmp_path: Path
) -> None:
    """On Lambda new layer content is a new layer version, so a new function version: an edit
    of a template's layer directory publishes version 2 behind the alias, and version 1 keeps
    running the layer as it was (a copy), also after a restart."""
    template = _layered(tmp_path / "proj", "A")
    first: Server = start_server("-t", str(template), data_dir=tmp_path / "data")
    assert _runs(first.client(), "live") == ("1", "A")
    first.stop()
    (tmp_path / "proj" / "lay" / "python" / "lmod.py").write_text("V = 'B'\n")  # only the layer
    second: Server = start_server("-t", str(template), data_dir=tmp_path / "data")
    lam = second.client()
    versions = [
        v["Version"] for v in lam.list_versions_by_function(FunctionName="hello")["Versions"]
    ]
    assert versions == ["$LATEST", "1", "2"]
    assert _runs(lam, "live") == ("2", "B")
    assert _runs(lam, "1") == ("1", "A")


def test_watch_publishes_a_new_version_when_a_layer_changes(
    start_server: Any, tmp_path: Path
) -> None:
    template = _layered(tmp_path / "proj", "A")
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    assert _runs(lam, "live") == ("1", "A")
    (tmp_path / "proj" / "lay" / "python" / "lmod.py").write_text("V = 'B'\n")  # only the layer
    wait_for(lambda: lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "2")
    assert _runs(lam, "live") == ("2", "B")
    assert _runs(lam, "1") == ("1", "A")
