"""Finding model and rule catalogue shared by the Python and JavaScript analysers.

The catalogue lives in one place so that renderers (text, JSON, SARIF), the docs and the
tests all agree on ids, severities and fix hints: a rule id is a stable public contract.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field


class Severity(enum.Enum):
    """Ordered severities; ``rank`` lets ``--fail-on`` compare them."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.lower())
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {allowed})") from None


_RANKS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True)
class Rule:
    """One check: what it finds, why reuse makes it a bug, and the generic fix."""

    id: str
    name: str
    severity: Severity
    summary: str
    why: str
    hint: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "KW001",
            "parse-error",
            Severity.WARNING,
            "File (or one of its functions) could not be parsed or analysed, so it was not audited",
            "An unparsed handler module is an unaudited one; a clean report would be misleading.",
            "fix the syntax error or split the deeply nested expression (or exclude the file) "
            "and re-run the audit",
        ),
        Rule(
            "KW101",
            "request-data-in-global-state",
            Severity.ERROR,
            "Request data stored in module, class or closure state",
            "A warm environment keeps module globals, class attributes and closures alive "
            "between invocations, so the next caller can observe (or act on) this caller's data.",
            "keep per-request data in local variables and pass it explicitly",
        ),
        Rule(
            "KW102",
            "unbounded-module-cache",
            Severity.WARNING,
            "Module-level container grows per request without eviction",
            "Each warm invocation adds entries that are never removed, so memory grows until "
            "the environment hits its MemorySize limit and is killed.",
            "bound it (keepwarm.orc.Cache, cachetools.LRUCache/TTLCache, lru_cache(maxsize=N)) "
            "or evict explicitly",
        ),
        Rule(
            "KW103",
            "tmp-file-not-cleaned",
            Severity.WARNING,
            "Handler writes a /tmp file that is never removed",
            "/tmp survives between invocations of a warm environment: a fixed path hands this "
            "request's data to the next one, and leftover files fill the 512 MB /tmp.",
            "use tempfile (TemporaryDirectory/NamedTemporaryFile) or a per-request path and "
            "remove it in a finally block",
        ),
        Rule(
            "KW104",
            "secret-kept-beyond-invocation",
            Severity.ERROR,
            "Secret (card, password, token, ...) kept beyond the invocation",
            "Secrets left in globals, caches or /tmp outlive the request that supplied them and "
            "are readable by every later invocation served by the same environment.",
            "never persist secrets outside the handler's locals; drop them as soon as used",
        ),
        Rule(
            "KW105",
            "mutable-default-state",
            Severity.WARNING,
            "Mutable default argument mutated: hidden cross-call state",
            "Python evaluates defaults once, at import; in a warm environment the same object "
            "is shared by every invocation and keeps growing.",
            "default to None and create the container inside the function",
        ),
        Rule(
            "KW106",
            "init-time-uniqueness",
            Severity.INFO,
            "Value meant to be unique or current is computed once at init",
            "Init code runs once per environment (and once per snapshot under SnapStart or a "
            "fork server), so every invocation and every restored copy shares this value.",
            "compute unique ids, random values and timestamps inside the handler",
        ),
    )
}


@dataclass(frozen=True, order=True)
class Finding:
    """One reported problem; ordering is by location so output is stable."""

    path: str
    line: int
    col: int
    rule_id: str
    message: str
    hint: str = ""

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]

    @property
    def severity(self) -> Severity:
        return self.rule.severity


@dataclass
class AuditReport:
    """The outcome of auditing some paths: findings plus what was looked at."""

    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    suppressed: int = 0

    def counts(self) -> dict[str, int]:
        by_sev = Counter(f.severity.value for f in self.findings)
        return {s.value: by_sev.get(s.value, 0) for s in reversed(Severity)}

    def fails(self, threshold: Severity) -> bool:
        return any(f.severity.rank >= threshold.rank for f in self.findings)


class Collector:
    """Accumulates findings, de-duplicated by (rule, location).

    Analyses revisit code (fixpoints, several call contexts), so the same problem can be
    discovered more than once; the first message wins.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[str, str, int, int], Finding] = {}

    def emit(self, rule_id: str, path: str, line: int, col: int, message: str) -> None:
        key = (rule_id, path, line, col)
        if key not in self._found:
            self._found[key] = Finding(path, line, col, rule_id, message, RULES[rule_id].hint)

    def findings(self) -> list[Finding]:
        return sorted(self._found.values())
