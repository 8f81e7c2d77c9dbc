"""Warnings for snapshot functions, from the static audit's init-uniqueness rule (KW106).

Why at load time: in snapshot mode every environment is a copy of one Init, so a UUID, a seed
or a token computed at import is the same in all of them (see docs/snapshot.md). This lives at
the composition layer because the pool must not import the audit.
"""

from __future__ import annotations

from keepwarm.config import FunctionConfig


def init_uniqueness_findings(config: FunctionConfig) -> list[str]:
    from keepwarm.audit.static.engine import AuditUsageError, audit_paths

    try:
        report = audit_paths([config.code_dir])
    except (AuditUsageError, OSError, ValueError):
        return []
    return [
        f"keepwarm: snapshot function {config.name}: {f.path}:{f.line}: {f.message} ({f.rule_id})"
        for f in report.findings
        if f.rule_id == "KW106"
    ]


def snapshot_warnings(config: FunctionConfig, drops_privileges: bool) -> list[str]:
    lines = init_uniqueness_findings(config)
    if drops_privileges or getattr(config, "network", "") == "none":
        lines.append(
            f"keepwarm: snapshot function {config.name}: snapshots do not yet combine with "
            "dropping to an unprivileged user or network=none: it forks as usual "
            "(in the Python API, ServerConfig(run_as='root') enables its snapshot)"
        )
    return lines
