"""Tags (TagResource, UntagResource, ListTags) and a template function's descriptive properties
(Description, Role, Architectures, Layers, Tracing, Tags) as GetFunction reports them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_api.kw_server import Server, create
from tests.lambda_api.test_invoke import error_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:shared:3"
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Tags:
      team: core
      stage: dev
    Layers:
      - {layer}
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  Described:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: described
      Handler: app.handler
      CodeUri: src/
      Description: Says hello
      Role: arn:aws:iam::123456789012:role/hello-role
      Architectures: [arm64]
      Tracing: Active
      Layers:
        - !Ref SharedLayer
      Tags:
        stage: prod
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: plain
      Runtime: python3.12
      Handler: app.handler
      Role: !GetAtt SomeRole.Arn
      Code: src/
      TracingConfig:
        Mode: Active
      Tags:
        - Key: owner
          Value: me
"""


def test_tags_on_an_api_function(lam: Any) -> None:
    create(lam, "tagged", Tags={"team": "core"})
    arn = ARN.format("tagged")
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "core"}
    lam.tag_resource(Resource=arn, Tags={"stage": "dev", "team": "edge"})
    lam.untag_resource(Resource=arn, TagKeys=["stage", "never-set"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "edge"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {"team": "edge"}


@pytest.mark.parametrize(
    ("resource", "code", "words"),
    [
        ("tagged", "ValidationException", "at 'resource' failed to satisfy constraint"),
        (ARN.format("tagged") + ":1", "InvalidParameterValueException", "aliases and versions"),
        (ARN.format("nobody"), "ResourceNotFoundException", "Function not found"),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:tagged",
            "ResourceNotFoundException",
            "not reachable in this region",
        ),
    ],
)
def test_a_tag_call_names_one_function_by_arn(
    lam: Any, resource: str, code: str, words: str
) -> None:
    create(lam, "tagged")
    with pytest.raises(ClientError) as exc:
        lam.list_tags(Resource=resource)
    assert error_of(exc)[1] == code and words in error_of(exc)[2]


def test_bad_tags_are_refused_with_lambdas_constraint(lam: Any) -> None:
    create(lam, "tagged")
    with pytest.raises(ClientError) as exc:
        lam.tag_resource(Resource=ARN.format("tagged"), Tags={"k" * 129: "v"})
    status, code, message = error_of(exc)
    assert (status, code) == (400, "ValidationException")
    assert "at 'tags' failed to satisfy constraint: Map keys must" in message
    with pytest.raises(ClientError) as exc:
        create(lam, "refused", Tags={"ok": "bad\nvalue"})
    assert "Map value must satisfy constraint" in error_of(exc)[2]
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName="refused")
    assert error_of(exc)[1] == "ResourceNotFoundException"  # nothing was created
    assert lam.list_tags(Resource=ARN.format("tagged"))["Tags"] == {}


def _many(n: int, prefix: str = "k") -> dict[str, str]:
    return {f"{prefix}{i}": str(i) for i in range(n)}


@pytest.mark.parametrize("key", ["aws:team", "AWS:Team", "Aws:cloudformation:stack-name"])
def test_aws_prefixed_keys_are_refused(lam: Any, key: str) -> None:
    create(lam, "tagged", Tags={"team": "core"})
    with pytest.raises(ClientError) as exc:
        lam.tag_resource(Resource=ARN.format("tagged"), Tags={"ok": "1", key: "x"})
    assert error_of(exc) == (
        400,
        "InvalidParameterValueException",
        f"Tag keys starting with 'aws:' are reserved for AWS use: {key}.",
    )
    with pytest.raises(ClientError) as exc:
        create(lam, "refused", Tags={key: "x"})
    assert error_of(exc)[1] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName="refused")
    assert error_of(exc)[1] == "ResourceNotFoundException"  # nothing was created
    assert lam.list_tags(Resource=ARN.format("tagged"))["Tags"] == {"team": "core"}
    lam.tag_resource(Resource=ARN.format("tagged"), Tags={"awsome:x": "1", "team:aws:": "2"})


def test_a_function_holds_at_most_50_tags(lam: Any) -> None:
    too_many = ("InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
    with pytest.raises(ClientError) as exc:
        create(lam, "crowded", Tags=_many(51))
    assert error_of(exc)[1:] == too_many
    create(lam, "full", Tags=_many(50))
    arn = ARN.format("full")
    lam.tag_resource(Resource=arn, Tags={"k0": "changed", "k49": "changed"})  # still 50
    with pytest.raises(ClientError) as exc:  # what it has counts with what is added
        lam.tag_resource(Resource=arn, Tags={"k1": "changed", "one-more": "x"})
    assert error_of(exc)[1:] == too_many
    tags = lam.list_tags(Resource=arn)["Tags"]
    assert len(tags) == 50 and (tags["k0"], tags["k1"]) == ("changed", "1")  # all or nothing
    lam.untag_resource(Resource=arn, TagKeys=["k2"])
    lam.tag_resource(Resource=arn, Tags={"one-more": "x"})
    assert len(lam.list_tags(Resource=arn)["Tags"]) == 50


def test_the_aws_cli_lists_tags(server: Server, lam: Any) -> None:
    create(lam, "tagged", Tags={"team": "core"})
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    argv = [sys.executable, "-m", "awscli", "lambda", "list-tags", "--region", "us-east-1"]
    out = subprocess.run(
        [*argv, "--endpoint-url", server.url, "--resource", ARN.format("tagged")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout) == {"Tags": {"team": "core"}}


def _template_dir(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "layer").mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(layer=LAYER))
    return template


def test_a_template_function_reads_back_as_deployed(start_server: Any, tmp_path: Path) -> None:
    template = _template_dir(tmp_path)
    lam = start_server("-t", str(template)).client()
    out = lam.get_function(FunctionName="described")
    conf = out["Configuration"]
    assert conf["Description"] == "Says hello"
    assert conf["Role"] == "arn:aws:iam::123456789012:role/hello-role"
    assert conf["Architectures"] == ["arm64"]
    assert conf["TracingConfig"] == {"Mode": "Active"}
    shared = "arn:aws:lambda:us-east-1:000000000000:layer:SharedLayer:1"  # !Ref SharedLayer
    assert [layer["Arn"] for layer in conf["Layers"]] == [LAYER, shared]  # Globals' first
    assert out["Tags"] == {"team": "core", "stage": "prod", "lambda:createdBy": "SAM"}
    plain = lam.get_function(FunctionName="plain")
    assert plain["Configuration"]["Role"].endswith(":role/keepwarm-template")
    assert plain["Configuration"]["TracingConfig"] == {"Mode": "Active"}
    assert plain["Tags"] == {"owner": "me"}


def test_tag_changes_to_a_template_function_outlive_a_restart(
    start_server: Any, tmp_path: Path
) -> None:
    template = _template_dir(tmp_path)
    data = tmp_path / "data"
    first = start_server("-t", str(template), data_dir=data)
    lam = first.client()
    lam.tag_resource(Resource=ARN.format("described"), Tags={"owner": "ops", "team": "edge"})
    lam.untag_resource(Resource=ARN.format("described"), TagKeys=["stage"])
    first.stop()
    template.write_text(template.read_text().replace("stage: prod", "stage: qa\n        cost: 7"))
    lam = start_server("-t", str(template), data_dir=data).client()
    tags = lam.list_tags(Resource=ARN.format("described"))["Tags"]
    assert tags == {"team": "edge", "owner": "ops", "cost": "7", "lambda:createdBy": "SAM"}


def test_a_bad_descriptive_value_is_a_template_error(tmp_path: Path) -> None:
    from keepwarm.errors import TemplateError
    from keepwarm.template import load_template

    template = _template_dir(tmp_path)
    text = template.read_text().replace("[arm64]", "[sparc]")
    template.write_text(textwrap.dedent(text))
    with pytest.raises(TemplateError, match=r"Function Described: .*architectures"):
        load_template(template)


def _described_tags(template: Path, lines: list[str]) -> None:
    """Replace the Described function's own Tags (Globals add team and stage, SAM its tag)."""
    own = "".join(f"        {line}\n" for line in lines)
    template.write_text(template.read_text().replace("        stage: prod\n", own))


def test_sams_created_by_tag_counts_towards_the_limit(start_server: Any, tmp_path: Path) -> None:
    template = _template_dir(tmp_path)
    _described_tags(template, [f"t{i}: v" for i in range(47)])  # 2 + 47 + 1 = 50
    lam = start_server("-t", str(template)).client()
    arn = ARN.format("described")
    tags = lam.list_tags(Resource=arn)["Tags"]
    assert len(tags) == 50 and tags["lambda:createdBy"] == "SAM"
    with pytest.raises(ClientError) as exc:
        lam.tag_resource(Resource=arn, Tags={"one-more": "x"})
    assert error_of(exc)[2] == "Number of tags exceeds resource tag limit."
    lam.untag_resource(Resource=arn, TagKeys=["t0"])
    lam.tag_resource(Resource=arn, Tags={"one-more": "x"})


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        (["AWS:owner: me"], "Tag keys starting with 'aws:' are reserved for AWS use: AWS:owner."),
        ([f"t{i}: v" for i in range(48)], "Number of tags exceeds resource tag limit."),
    ],
)
def test_a_template_refuses_what_lambda_would(tmp_path: Path, lines: list[str], words: str) -> None:
    from keepwarm.errors import TemplateError
    from keepwarm.template import load_template

    template = _template_dir(tmp_path)
    _described_tags(template, lines)
    with pytest.raises(TemplateError, match=r"Function Described: " + re.escape(words)):
        load_template(template)
