"""Template functions next to stored API functions and the data dir (found by black-box
testing): a template name that shadows an API function, what the API set on a function the
template dropped, tags the template adds later, and the data dir inside a code directory."""

from __future__ import annotations

import io
import json
import textwrap
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_serve_template import project
from tests.lambda_api.kw_server import Server, create, wait_for

SHADOW = """
Resources:
  Shadow:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: apifn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Tags:
        team: core{extra}
"""
ARN = "arn:aws:lambda:us-east-1:000000000000:function:apifn"


def _answer(lam: Any) -> Any:
    return json.loads(lam.invoke(FunctionName="apifn")["Payload"].read())


def _shadowing(root: Path, extra: str = "") -> Path:
    template = project(root, "template")
    template.write_text(textwrap.dedent(SHADOW.format(extra=extra)))
    return template


def test_an_api_function_a_template_shadowed_comes_back_at_the_next_start(
    start_server: Any, tmp_path: Path
) -> None:
    """It used to lose its code at the shadowing start, and the data dir then never started."""
    data = tmp_path / "data"
    first: Server = start_server(data_dir=data)
    create(first.client(), "apifn")
    first.stop()
    template = _shadowing(tmp_path / "proj")
    second: Server = start_server("-t", str(template), data_dir=data)
    assert _answer(second.client())["code"] == "template"
    second.stop()
    third: Server = start_server(data_dir=data)
    assert _answer(third.client())["count"] == 1  # the API function's own code (COUNTER)


def test_deleting_a_shadowing_template_function_keeps_the_api_one_it_hides(
    start_server: Any, tmp_path: Path
) -> None:
    """DeleteFunction on the template function used to delete the hidden API function's
    stored row as well (the store deleted every row of the name)."""
    data = tmp_path / "data"
    first: Server = start_server(data_dir=data)
    create(first.client(), "apifn")
    first.stop()
    second: Server = start_server("-t", str(_shadowing(tmp_path / "proj")), data_dir=data)
    second.client().delete_function(FunctionName="apifn")
    second.stop()
    third: Server = start_server(data_dir=data)
    assert _answer(third.client())["count"] == 1


def test_under_watch_removing_a_shadowing_function_restores_the_api_one(
    start_server: Any, tmp_path: Path
) -> None:
    template = project(tmp_path / "proj", "unused")
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    create(lam, "apifn")
    original = template.read_text()
    template.write_text(original + textwrap.dedent(SHADOW.format(extra="")).split("Resources:")[1])
    wait_for(lambda: _answer(lam).get("code") == "unused", timeout=30)
    template.write_text(original)
    wait_for(lambda: "count" in _answer(lam) and "code" not in _answer(lam), timeout=30)
    srv.stop()
    again: Server = start_server(data_dir=srv.data_dir)
    assert "count" in _answer(again.client())  # and it was not deleted from the store


def test_tags_the_api_changed_go_with_the_function_and_absent_keys_stay_absent(
    start_server: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    template = _shadowing(tmp_path / "proj")
    first: Server = start_server("-t", str(template), data_dir=data)
    lam = first.client()
    lam.tag_resource(Resource=ARN, Tags={"api": "yes"})
    lam.untag_resource(Resource=ARN, TagKeys=["future"])  # not there: changes nothing
    first.stop()
    template.write_text(textwrap.dedent(SHADOW.format(extra="\n        future: x")))
    second: Server = start_server("-t", str(template), data_dir=data)
    tags = second.client().list_tags(Resource=ARN)["Tags"]
    assert tags == {"team": "core", "future": "x", "api": "yes", "lambda:createdBy": "SAM"}
    second.stop()
    start_server(data_dir=data).stop()  # a start without the function: it is gone
    third: Server = start_server("-t", str(template), data_dir=data)
    tags = third.client().list_tags(Resource=ARN)["Tags"]
    assert tags == {"team": "core", "future": "x", "lambda:createdBy": "SAM"}


def test_the_data_dir_inside_a_code_directory_is_not_code(
    start_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    template = project(root, "here")
    template.write_text(template.read_text().replace("CodeUri: src/", "CodeUri: ."))
    srv: Server = start_server("-t", str(template), data_dir=root / ".keepwarm")
    lam = srv.client()
    lam.invoke(FunctionName="hello")  # writes logs into the data dir
    location = lam.get_function(FunctionName="hello")["Code"]["Location"]
    with urllib.request.urlopen(location) as response:
        names = zipfile.ZipFile(io.BytesIO(response.read())).namelist()
    assert "src/app.py" in names and not [n for n in names if n.startswith(".keepwarm/")]


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        ("FunctionName: ../../victim", "at 'functionName' failed"),
        ("Tags: {lambda:createdBy: me}", "lambda:createdBy is a reserved Tag key name"),
        ("Metadata: {}", None),
    ],
)
def test_template_values_refused_before_anything_is_written(
    tmp_path: Path, properties: str, words: str | None
) -> None:
    from keepwarm.errors import TemplateError
    from keepwarm.template import load_template

    deep = tmp_path / "a" / "b"
    victim = deep / "victim" / "app.py"  # .keepwarm/inline/../../victim, seen from the template
    victim.parent.mkdir(parents=True)
    victim.write_text("untouched")
    body = f"""
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.handler
          Runtime: python3.12
          InlineCode: "def handler(e, c):\\n    return 1\\n"
          {properties}
    """
    template = deep / "template.yaml"
    template.write_text(textwrap.dedent(body))
    if words is None:
        assert load_template(template)
        return
    with pytest.raises(TemplateError, match=words):
        load_template(template)
    assert victim.read_text() == "untouched"
