"""A template's function URLs on ``keepwarm serve -t``: made at start (printed one line each),
served, on the ``AutoPublishAlias`` alias when there is one, with the same url-id after a
restart; one that cannot be made is a warning and the others are served."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.helpers import wait_for, write_code
from tests.lambda_api.kw_server import Server
from tests.lambda_api.test_function_url_serving import call, signed

HANDLER = "def handler(event, context):\n    return context.invoked_function_arn\n"
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: {code}
Resources:
  Site:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigins: ["https://app.example"]
  Live:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: AWS_IAM
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Code: {code}
  PlainUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Plain.Arn
      AuthType: NONE
  MissingAliasUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Plain
      Qualifier: prod
      AuthType: NONE
"""
LINE = re.compile(r"keepwarm: function URL of (\S+): (http://(\S+)/)(.*)")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


def printed_urls(server: Server) -> dict[str, tuple[str, str]]:
    """Target -> (URL, the rest of its line), from what serve printed at start."""
    found = (LINE.fullmatch(line) for line in server.stderr().splitlines())
    return {m[1]: (m[2], m[4]) for m in found if m}


def test_template_urls_are_made_printed_served_and_kept(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    code = write_code(tmp_path / "src", {"app.py": HANDLER})
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(code=code))
    data = tmp_path / "data"
    first = start_server("-t", str(template), data_dir=data)
    urls = printed_urls(first)
    assert set(urls) == {"Site", "Live:live", "Plain"}
    assert urls["Live:live"][1] == " (AuthType AWS_IAM: sign requests with SigV4, service lambda)"
    assert "MissingAliasUrl (the function URL of Plain:prod): no function URL: alias prod" in (
        first.stderr()
    )
    site_host = urls["Site"][0].split("/")[2]
    answer = call(first, site_host, headers=[("Origin", "https://app.example")])
    assert (answer.status, answer.body) == (200, f"{ARN}Site".encode())
    assert answer.header("access-control-allow-origin") == "https://app.example"
    plain = call(first, urls["Plain"][0].split("/")[2])
    assert plain.body == f"{ARN}Plain".encode()
    live_host = urls["Live:live"][0].split("/")[2]
    assert call(first, live_host).status == 403  # unsigned
    by_alias = call(first, live_host, "POST", "/", b"{}", signed(live_host, body=b"{}"))
    assert (by_alias.status, by_alias.body) == (200, f"{ARN}Live:live".encode())

    lam = first.client()
    live = lam.get_function_url_config(FunctionName="Live", Qualifier="live")
    assert (live["FunctionUrl"], live["AuthType"]) == (urls["Live:live"][0], "AWS_IAM")
    assert live["FunctionArn"] == f"{ARN}Live:live"
    first.stop()

    second = start_server("-t", str(template), data_dir=data)
    assert printed_urls(second) == {
        target: (url.replace(f":{first.port}/", f":{second.port}/"), rest)
        for target, (url, rest) in urls.items()
    }
    again = call(second, printed_urls(second)["Site"][0].split("/")[2])
    assert again.body == f"{ARN}Site".encode()


ONE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Site:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: {code}
      FunctionUrlConfig:
        AuthType: NONE
"""
ADDED = """\
  Added:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: {code}
      FunctionUrlConfig:
        AuthType: NONE
"""


def test_watch_makes_the_url_of_a_function_added_and_drops_a_removed_one(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    code = write_code(tmp_path / "src", {"app.py": HANDLER})
    template = tmp_path / "template.yaml"
    template.write_text(ONE.format(code=code))
    server = start_server("-t", str(template), "--watch")
    site = printed_urls(server)["Site"][0].split("/")[2]
    template.write_text((ONE + ADDED).format(code=code))
    wait_for(lambda: "Added" in printed_urls(server), what="the added function's URL line")
    added = printed_urls(server)["Added"][0].split("/")[2]
    assert call(server, added).body == f"{ARN}Added".encode()
    template.write_text(
        ADDED.join(["Transform: AWS::Serverless-2016-10-31\nResources:\n", ""]).format(code=code)
    )
    wait_for(lambda: call(server, site).status == 403, what="the removed function's URL gone")
    assert call(server, added).status == 200
