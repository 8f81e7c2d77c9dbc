"""Suppression comments: ``# keepwarm: ignore[KW101,KW104]`` or a bare ``keepwarm: ignore``.

A comment suppresses findings on its own line, or on the next line when it stands alone.
Comments are located with the real tokenizer / parser so that a string containing the
marker text does not silence anything.
"""

from __future__ import annotations

import io
import re
import tokenize

ALL = "*"
_MARK = re.compile(r"keepwarm:\s*ignore(?:\[([A-Za-z0-9_,\s]+)\])?")


def parse_marker(comment: str) -> set[str] | None:
    """Rule ids named by a suppression comment (``{"*"}`` for all), or None if not one."""
    match = _MARK.search(comment)
    if match is None:
        return None
    if match.group(1) is None:
        return {ALL}
    return {part.strip().upper() for part in match.group(1).split(",") if part.strip()}


def python_suppressions(source: str) -> dict[int, set[str]]:
    """Line -> suppressed rule ids, from the Python comments in ``source``."""
    out: dict[int, set[str]] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return out
    code_lines = {t.start[0] for t in tokens if t.type not in _NON_CODE}
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        ids = parse_marker(tok.string)
        if ids is not None:
            add_suppression(out, tok.start[0], ids, tok.start[0] in code_lines)
    return out


def add_suppression(out: dict[int, set[str]], line: int, ids: set[str], inline: bool) -> None:
    target = line if inline else line + 1
    out.setdefault(target, set()).update(ids)


def is_suppressed(table: dict[int, set[str]], line: int, rule_id: str) -> bool:
    ids = table.get(line, set())
    return ALL in ids or rule_id in ids


_NON_CODE = frozenset(
    {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
)
