"""Report renderers: human text, JSON (findings + summary) and SARIF 2.1.0.

The SARIF output follows what GitHub code scanning ingests: one run, ``tool.driver`` with
every rule (id, shortDescription, fullDescription, help, default level) and results with
``ruleId``, ``ruleIndex``, ``level``, ``message`` and a relative ``physicalLocation``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from keepwarm.audit.static.findings import RULES, AuditReport, Finding, Rule, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
FORMATS = ("text", "json", "sarif")


def render(report: AuditReport, fmt: str) -> str:
    if fmt == "text":
        return render_text(report)
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})")


def render_text(report: AuditReport) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.col}: {f.rule_id} {f.severity.value}: {f.message} (hint: {f.hint})"
        for f in report.findings
    ]
    counts = report.counts()
    summary = ", ".join(f"{n} {sev}" for sev, n in counts.items())
    extra = f", {report.suppressed} suppressed" if report.suppressed else ""
    lines.append(f"{len(report.files)} file(s) audited: {summary}{extra}")
    return "\n".join(lines) + "\n"


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule_id,
        "name": f.rule.name,
        "severity": f.severity.value,
        "path": f.path,
        "line": f.line,
        "column": f.col,
        "message": f.message,
        "hint": f.hint,
    }


def to_json(report: AuditReport) -> dict[str, Any]:
    return {
        "findings": [finding_json(f) for f in report.findings],
        "summary": {
            "files": len(report.files),
            "total": len(report.findings),
            "suppressed": report.suppressed,
            "by_severity": report.counts(),
            "by_rule": {rid: sum(f.rule_id == rid for f in report.findings) for rid in RULES},
        },
    }


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.why},
        "help": {
            "text": f"{rule.why} Fix: {rule.hint}.",
            "markdown": f"**{rule.summary}**\n\n{rule.why}\n\n**Fix:** {rule.hint}.",
        },
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        "properties": {"tags": ["security", "reliability", "lambda"]},
    }


def _artifact(path: str) -> dict[str, str]:
    """Repository-relative URI (what code scanning maps to files); ``file://`` for files
    outside the working directory, which have no meaningful relative form."""
    if PurePosixPath(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def to_sarif(report: AuditReport) -> dict[str, Any]:
    rule_ids = list(RULES)
    results = [
        {
            "ruleId": f.rule_id,
            "ruleIndex": rule_ids.index(f.rule_id),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message} (hint: {f.hint})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(f.path),
                        "region": {"startLine": f.line, "startColumn": f.col},
                    }
                }
            ],
            "partialFingerprints": {"primaryLocationLineHash": f"{f.rule_id}:{f.path}:{f.line}"},
        }
        for f in report.findings
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "keepwarm",
                        "rules": [_sarif_rule(RULES[r]) for r in rule_ids],
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
