"""Precision and recall of the static audit on the labelled evidence corpus.

Each corpus file is labelled in ``corpus/expected.json`` with the rule ids it must produce
(an empty list for clean look-alikes). Scoring is per (file, rule id) pair.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepwarm.audit import audit_paths

CORPUS = Path(__file__).parent / "corpus"
_CODE = {".py", ".js", ".mjs", ".cjs"}


def _labels() -> dict[str, set[str]]:
    raw = json.loads((CORPUS / "expected.json").read_text())
    return {name: set(ids) for name, ids in raw.items()}


def _found() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for f in audit_paths([CORPUS]).findings:
        rel = Path(f.path).resolve().relative_to(CORPUS.resolve()).as_posix()
        found.setdefault(rel, set()).add(f.rule_id)
    return found


def score() -> tuple[float, float, dict[str, tuple[set[str], set[str]]]]:
    labels, found = _labels(), _found()
    tp = fp = fn = 0
    wrong: dict[str, tuple[set[str], set[str]]] = {}
    for name in sorted(set(labels) | set(found)):
        exp, got = labels.get(name, set()), found.get(name, set())
        tp, fp, fn = tp + len(exp & got), fp + len(got - exp), fn + len(exp - got)
        if exp != got:
            wrong[name] = (exp, got)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, wrong


def test_every_corpus_file_is_labelled() -> None:
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.suffix in _CODE}
    assert files == set(_labels())


def test_corpus_size_and_mix() -> None:
    labels = _labels()
    node = [n for n in labels if Path(n).suffix != ".py"]
    assert len(labels) >= 30 and len(node) >= 10
    assert sum(1 for ids in labels.values() if not ids) >= 10


def test_precision_and_recall() -> None:
    precision, recall, wrong = score()
    assert recall == 1.0, wrong
    assert precision >= 0.9, wrong


@pytest.mark.parametrize("name", ["py_credit_card_global.py", "js_credit_card_global.js"])
def test_credit_card_global_flagged(name: str) -> None:
    assert _found()[name] == {"KW101", "KW104"}


@pytest.mark.parametrize("name", ["py_credit_card_local.py", "js_credit_card_local.js"])
def test_credit_card_local_clean(name: str) -> None:
    assert name not in _found()


if __name__ == "__main__":
    p, r, w = score()
    print(f"precision={p:.3f} recall={r:.3f} mismatches={w}")
