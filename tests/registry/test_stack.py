"""A template function changes as a deploy of its SAM stack would change it
(keepwarm.registry.stack): AutoPublishAlias's alias is a stack resource (renamed: replaced;
removed: deleted; the versions stay), an alias the API created is never touched, and
``$LATEST``'s RevisionId, CodeSha256, CodeSize and LastModified change exactly when the code or
configuration does, at a start or a --watch reload."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.lambda_api.kw_server import Server, wait_for

TEMPLATE = """
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
TAG = "{tag}"
def handler(event, context):
    return {{"tag": TAG, "version": context.function_version}}
"""
REPORTED = ("RevisionId", "CodeSha256", "CodeSize", "LastModified")


def _template(root: Path, alias: str | None = None, extra: str = "") -> Path:
    text = textwrap.dedent(TEMPLATE)
    if alias is not None:
        text += f"      AutoPublishAlias: {alias}\n"
    (root / "template.yaml").write_text(text + extra)
    return root / "template.yaml"


def _project(root: Path, alias: str | None = None) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    _code(root, "v1")
    return _template(root, alias)


def _code(root: Path, tag: str) -> None:
    (root / "src" / "app.py").write_text(CODE.format(tag=tag))


def _aliases(lam: Any) -> dict[str, str]:
    listed = lam.list_aliases(FunctionName="hello")["Aliases"]
    return {a["Name"]: a["FunctionVersion"] for a in listed}


def _versions(lam: Any) -> list[str]:
    return [v["Version"] for v in lam.list_versions_by_function(FunctionName="hello")["Versions"]]


def _call(lam: Any, qualifier: str) -> dict[str, Any]:
    out = lam.invoke(FunctionName="hello", Qualifier=qualifier)
    assert "FunctionError" not in out
    result: dict[str, Any] = json.loads(out["Payload"].read())
    return result


def _alias(lam: Any, name: str) -> dict[str, Any]:
    got = dict(lam.get_alias(FunctionName="hello", Name=name))
    got.pop("ResponseMetadata")
    return got


def _reported(lam: Any) -> dict[str, Any]:
    config = lam.get_function(FunctionName="hello")["Configuration"]
    return {k: config[k] for k in REPORTED}


# -- AutoPublishAlias ------------------------------------------------------------------------
def test_a_renamed_or_removed_auto_publish_alias_goes_and_the_api_s_alias_stays(
    start_server: Any, tmp_path: Path
) -> None:
    """The alias used to stay for ever: renaming added a second one, removing kept it."""
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root, "live")
    first: Server = start_server("-t", str(template), data_dir=data)
    lam = first.client()
    lam.create_alias(FunctionName="hello", Name="mine", FunctionVersion="1", Description="mine")
    mine = _alias(lam, "mine")
    first.stop()

    _template(root, "prod")
    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    assert _aliases(lam) == {"mine": "1", "prod": "1"}
    assert _alias(lam, "mine") == mine
    assert "hello: alias live deleted" in second.stderr()
    second.stop()

    _template(root, None)
    third: Server = start_server("-t", str(template), data_dir=data)
    lam = third.client()
    assert _aliases(lam) == {"mine": "1"}
    assert _alias(lam, "mine") == mine
    assert _versions(lam) == ["$LATEST", "1"]  # SAM retains the versions
    assert _call(lam, "mine") == {"tag": "v1", "version": "1"}


def test_under_watch_a_renamed_or_removed_auto_publish_alias_goes(
    start_server: Any, tmp_path: Path
) -> None:
    template = _project(tmp_path / "proj", "live")
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    lam.create_alias(FunctionName="hello", Name="mine", FunctionVersion="$LATEST")
    mine = _alias(lam, "mine")
    _template(template.parent, "prod")
    wait_for(lambda: "prod" in _aliases(lam), timeout=60)
    assert _aliases(lam) == {"mine": "$LATEST", "prod": "1"}
    assert _call(lam, "prod") == {"tag": "v1", "version": "1"}
    _template(template.parent, None)
    wait_for(lambda: "prod" not in _aliases(lam), timeout=60)
    assert _aliases(lam) == {"mine": "$LATEST"} and _alias(lam, "mine") == mine
    assert _versions(lam) == ["$LATEST", "1"]


def test_an_alias_the_api_created_is_not_taken_over_by_the_template(
    start_server: Any, tmp_path: Path
) -> None:
    """A stack deploy would fail on the existing alias; keepwarm leaves it, says so, publishes,
    and makes the template's alias once the API's is deleted."""
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root)
    first: Server = start_server("-t", str(template), data_dir=data)
    lam = first.client()
    assert lam.publish_version(FunctionName="hello")["Version"] == "1"
    lam.create_alias(FunctionName="hello", Name="prod", FunctionVersion="1", Description="hand")
    prod = _alias(lam, "prod")
    first.stop()

    _code(root, "v2")
    _template(root, "prod")
    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    assert _alias(lam, "prod") == prod  # its version, description and revision
    assert _versions(lam) == ["$LATEST", "1", "2"]
    assert "AutoPublishAlias prod not applied: an alias of that name was created" in (
        second.stderr()
    )
    lam.delete_alias(FunctionName="hello", Name="prod")
    second.stop()

    third: Server = start_server("-t", str(template), data_dir=data)
    lam = third.client()
    assert _aliases(lam) == {"prod": "2"}
    assert _call(lam, "prod") == {"tag": "v2", "version": "2"}
    third.stop()

    _template(root, "live")  # the template's own now: a rename replaces it
    fourth: Server = start_server("-t", str(template), data_dir=data)
    assert _aliases(fourth.client()) == {"live": "2"}


def test_a_data_dir_from_before_knows_its_template_alias(start_server: Any, tmp_path: Path) -> None:
    """Stored settings without ``template_alias`` (written before it was recorded): the alias
    the template names was the template's, so a rename still replaces it."""
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root, "live")
    start_server("-t", str(template), data_dir=data).stop()
    with sqlite3.connect(data / "registry.db") as db:
        [(doc,)] = db.execute("SELECT doc FROM template_settings WHERE name = 'hello'")
        settings = json.loads(doc)
        for key in ("template_alias", "latest"):
            settings.pop(key, None)
        db.execute("UPDATE template_settings SET doc = ?", (json.dumps(settings),))
    _template(root, "prod")
    srv: Server = start_server("-t", str(template), data_dir=data)
    assert _aliases(srv.client()) == {"prod": "1"}


# -- $LATEST's revision ------------------------------------------------------------------------
def test_a_restart_keeps_the_revision_until_the_code_changes(
    start_server: Any, tmp_path: Path
) -> None:
    """Every start used to give $LATEST a new RevisionId and LastModified, so a guard read
    before a restart failed although nothing had changed."""
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root, "live")
    first: Server = start_server("-t", str(template), data_dir=data)
    before = _reported(first.client())
    first.stop()

    second: Server = start_server("-t", str(template), data_dir=data)
    lam = second.client()
    assert _reported(lam) == before
    kept = lam.publish_version(FunctionName="hello", RevisionId=before["RevisionId"])
    assert kept["Version"] == "1"  # nothing changed: no new version, no new revision
    assert _reported(lam) == before
    second.stop()

    _code(root, "v2, longer")
    third: Server = start_server("-t", str(template), data_dir=data)
    lam = third.client()
    after = _reported(lam)
    assert all(after[k] != before[k] for k in REPORTED), (before, after)
    assert after["LastModified"] > before["LastModified"]
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(
            FunctionName="hello", Timeout=9, RevisionId=before["RevisionId"]
        )
    assert _call(lam, "live") == {"tag": "v2, longer", "version": "2"}


def test_under_watch_the_revision_follows_the_code_and_configuration_only(
    start_server: Any, tmp_path: Path
) -> None:
    """A reload that changed nothing GetFunction shows (here a tag) used to give $LATEST a
    new RevisionId and LastModified."""
    template = _project(tmp_path / "proj")
    srv: Server = start_server("-t", str(template), "--watch")
    lam = srv.client()
    arn = lam.get_function(FunctionName="hello")["Configuration"]["FunctionArn"]
    before = _reported(lam)
    _template(template.parent, extra="      Tags:\n        team: core\n")
    wait_for(lambda: lam.list_tags(Resource=arn)["Tags"].get("team") == "core", timeout=60)
    assert _reported(lam) == before

    _code(template.parent, "v2, longer")
    wait_for(lambda: _reported(lam)["CodeSha256"] != before["CodeSha256"], timeout=60)
    after = _reported(lam)
    assert all(after[k] != before[k] for k in REPORTED), (before, after)
    _template(template.parent, extra="      Timeout: 9\n")
    wait_for(lambda: lam.get_function(FunctionName="hello")["Configuration"]["Timeout"] == 9)
    assert _reported(lam)["RevisionId"] != after["RevisionId"]


def test_publishing_edited_code_without_watch_refuses_an_older_revision(
    start_server: Any, tmp_path: Path
) -> None:
    """Without --watch PublishVersion reads the directory again; the new code it found used to
    keep the old RevisionId, so a guard from before the edit passed."""
    root, data = tmp_path / "proj", tmp_path / "data"
    template = _project(root)
    first: Server = start_server("-t", str(template), data_dir=data)
    lam = first.client()
    before = _reported(lam)
    _code(root, "v2, longer")
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName="hello", RevisionId=before["RevisionId"])
    seen = _reported(lam)
    assert all(seen[k] != before[k] for k in REPORTED), (before, seen)
    assert (
        lam.publish_version(FunctionName="hello", RevisionId=seen["RevisionId"])["Version"] == "1"
    )
    published = _reported(lam)
    assert published["RevisionId"] != seen["RevisionId"]  # publishing is an update of $LATEST
    first.stop()
    second: Server = start_server("-t", str(template), data_dir=data)
    assert _reported(second.client()) == published


# -- what the template gives is not stored ------------------------------------------------------
def test_the_template_s_event_invoke_config_follows_the_template(
    start_server: Any, tmp_path: Path
) -> None:
    """The template's own EventInvokeConfig used to be stored with what the API set (once the
    function had any, e.g. an AutoPublishAlias version) and then won over the template's next
    one; under --watch, removing it kept it."""
    root, data = tmp_path / "proj", tmp_path / "data"
    _project(root)
    config = "      EventInvokeConfig:\n        MaximumRetryAttempts: {}\n"
    template = _template(root, "live", config.format(1))
    first: Server = start_server("-t", str(template), data_dir=data)
    first.client().put_function_event_invoke_config(
        FunctionName="hello", Qualifier="live", MaximumRetryAttempts=2
    )
    first.stop()

    def retries(lam: Any, qualifier: str = "$LATEST") -> int | None:
        try:
            got = lam.get_function_event_invoke_config(FunctionName="hello", Qualifier=qualifier)
        except lam.exceptions.ResourceNotFoundException:
            return None
        return int(got["MaximumRetryAttempts"])

    _template(root, "live", config.format(0))
    second: Server = start_server("-t", str(template), "--watch", data_dir=data)
    lam = second.client()
    assert (retries(lam), retries(lam, "live")) == (0, 2)
    _template(root, "live")
    wait_for(lambda: retries(lam) is None, timeout=60)
    assert retries(lam, "live") == 2
