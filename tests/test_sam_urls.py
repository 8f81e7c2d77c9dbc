"""A template's function URLs as ``read_template`` reads them (``keepwarm/_sam_urls.py``): SAM's
``FunctionUrlConfig`` (with Globals, and on the ``AutoPublishAlias`` alias, as SAM targets it)
and ``AWS::Lambda::Url`` (TargetFunctionArn by ``!Ref`` or ``!GetAtt``); one that cannot be
made locally is a warning, never the function's failure."""

from __future__ import annotations

import textwrap
from pathlib import Path

from keepwarm._sam_urls import TemplateUrl
from keepwarm.template import read_template

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: src/
    FunctionUrlConfig:
      AuthType: AWS_IAM
      Cors:
        AllowOrigins: ["*"]
Resources:
  Site:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: BUFFERED
  Live:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: live-fn
      AutoPublishAlias: live
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Code: src/
  PlainUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Plain.Arn
      AuthType: NONE
      Cors:
        AllowMethods: [GET]
  PlainAliasUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Plain
      Qualifier: prod
      AuthType: AWS_IAM
  Unknowable:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref PlainAlias
      AuthType: NONE
  BadCors:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Plain
      AuthType: NONE
      Cors:
        AllowOrigins: "*"
"""


def test_function_url_config_and_lambda_url_resources(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(TEMPLATE))
    loaded = read_template(path)
    assert {f.name for f in loaded.functions} == {"Site", "live-fn", "Plain"}
    assert loaded.urls == [
        # The function's own FunctionUrlConfig over Globals', key by key.
        TemplateUrl("SiteUrl", "Site", None, "NONE", {"AllowOrigins": ["*"]}, "BUFFERED"),
        # With AutoPublishAlias, SAM points the URL at the alias.
        TemplateUrl("LiveUrl", "live-fn", "live", "AWS_IAM", {"AllowOrigins": ["*"]}),
        TemplateUrl("PlainUrl", "Plain", None, "NONE", {"AllowMethods": ["GET"]}),
        TemplateUrl("PlainAliasUrl", "Plain", "prod", "AWS_IAM"),
    ]
    assert (
        "Unknowable: no function URL: Properties cannot be resolved locally: Ref PlainAlias."
        in (loaded.warnings)
    )
    assert "BadCors: no function URL: AllowOrigins must be of type list." in loaded.warnings


def test_a_function_url_config_without_auth_type_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n"
        "      FunctionUrlConfig:\n        Cors: {AllowOrigins: ['*']}\n"
    )
    loaded = read_template(path)
    assert [f.name for f in loaded.functions] == ["Fn"] and loaded.urls == []
    assert loaded.warnings == [
        "Fn: no function URL: AuthType is required to configure function property "
        "`FunctionUrlConfig`. Please provide either AWS_IAM or NONE."
    ]
