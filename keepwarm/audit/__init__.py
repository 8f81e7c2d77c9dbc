"""Reuse-safety audit for Lambda-style handlers.

The static part parses handler modules (Python ``ast``, JavaScript via tree-sitter) and
reports request data that outlives its invocation in a warm environment. This package must
not import the server: it runs in CI and on plain source trees.
"""

from __future__ import annotations

from keepwarm.audit.static.engine import AuditUsageError, audit_paths
from keepwarm.audit.static.findings import RULES, AuditReport, Finding, Rule, Severity

__all__ = ["RULES", "AuditReport", "AuditUsageError", "Finding", "Rule", "Severity", "audit_paths"]
