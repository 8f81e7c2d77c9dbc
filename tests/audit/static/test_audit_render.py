"""Output formats: text lines, JSON shape, and SARIF 2.1.0 as GitHub code scanning reads it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from keepwarm.audit import RULES, AuditReport
from keepwarm.audit.static.render import render

_SRC = {
    "app.py": """
    import uuid
    ID = uuid.uuid4()
    CACHE = {}
    def handler(event, context):
        global LAST
        LAST = event["token"]
        CACHE[event["k"]] = len(event)
    """
}


@pytest.fixture
def report(report_for: Callable[..., AuditReport]) -> AuditReport:
    return report_for(_SRC)


def test_text_format(report: AuditReport) -> None:
    lines = render(report, "text").splitlines()
    assert any(
        line.endswith(
            ".py:6:5: KW101 error: request data (event['token']) stored in module "
            "global 'LAST'; it survives into the next invocation (hint: keep per-request "
            "data in local variables and pass it explicitly)"
        )
        for line in lines
    )
    assert lines[-1] == "1 file(s) audited: 2 error, 1 warning, 1 info"


def test_json_format(report: AuditReport) -> None:
    doc = json.loads(render(report, "json"))
    assert doc["summary"]["by_severity"] == {"error": 2, "warning": 1, "info": 1}
    assert doc["summary"]["by_rule"]["KW104"] == 1
    assert doc["summary"]["total"] == len(doc["findings"]) == 4
    first = doc["findings"][0]
    assert set(first) == {"rule", "name", "severity", "path", "line", "column", "message", "hint"}
    assert (first["rule"], first["line"], first["column"]) == ("KW106", 2, 6)


def _check_sarif(doc: dict[str, Any]) -> None:
    """Structural checks for what GitHub code scanning requires of a SARIF upload."""
    assert doc["version"] == "2.1.0"
    assert doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "keepwarm"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == list(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    for res in run["results"]:
        assert res["ruleId"] in ids and ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        artifact = phys["artifactLocation"]
        if "uriBaseId" in artifact:
            assert not artifact["uri"].startswith("/") and "\\" not in artifact["uri"]
        else:
            assert artifact["uri"].startswith("file:///")
        assert phys["region"]["startLine"] >= 1 and phys["region"]["startColumn"] >= 1


def test_sarif_format(report: AuditReport, tmp_path: Any, monkeypatch: Any) -> None:
    doc = json.loads(render(report, "sarif"))
    _check_sarif(doc)
    levels = {r["ruleId"]: r["level"] for r in doc["runs"][0]["results"]}
    assert levels == {"KW101": "error", "KW104": "error", "KW102": "warning", "KW106": "note"}


def test_sarif_uri_is_relative_to_working_directory(
    report_for: Callable[..., AuditReport], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = json.loads(render(report_for(_SRC), "sarif"))
    _check_sarif(doc)
    assert (
        doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "code/app.py"
    )


def test_unknown_format_rejected(report: AuditReport) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(report, "xml")
