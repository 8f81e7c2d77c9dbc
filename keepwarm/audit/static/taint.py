"""Language-neutral taint values and secret-name detection.

Taint distinguishes *direct* request data (the event itself, a field of it, a copy or a
container holding it) from values merely *derived* from it by an arbitrary call (a database
row fetched by an id from the event). Storing direct data in shared state leaks it (KW101);
keying a cache by request data only grows it (KW102). Both analysers share this model.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_SECRET_WORDS = frozenset(
    {
        "card",
        "cards",
        "cvv",
        "cvc",
        "cvv2",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "ssn",
        "apikey",
        "passcode",
        "pin",
    }
)
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("security", "code"),
        ("credit", "card"),
        ("card", "number"),
        ("private", "key"),
        ("access", "key"),
        ("secret", "key"),
    }
)
_WORD_SPLIT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def name_words(name: str) -> list[str]:
    """Split snake_case, kebab-case and camelCase identifiers into lower-case words."""
    return [w.lower() for w in _WORD_SPLIT.findall(name)]


def is_secret_name(name: str) -> bool:
    """True for field or variable names that conventionally hold secrets.

    Word-based rather than substring-based so that ``discard`` or ``cardinality`` do not
    match while ``creditCard``, ``card_number`` and ``x-api-key`` do.
    """
    words = name_words(name)
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


@dataclass(frozen=True)
class Taint:
    """A request-derived value: ``direct`` when it is the data itself, ``secret`` if sensitive."""

    direct: bool
    secret: bool
    source: str

    def join(self, other: Taint | None) -> Taint:
        if other is None:
            return self
        return Taint(self.direct or other.direct, self.secret or other.secret, self.source)

    def derived(self) -> Taint:
        """The result of an opaque computation over this value: no longer the raw data."""
        return Taint(False, False, self.source)

    def as_secret(self) -> Taint:
        return Taint(self.direct, True, self.source)


def join_all(taints: list[Taint | None]) -> Taint | None:
    """Union of several taints (``None`` means clean)."""
    out: Taint | None = None
    for t in taints:
        if t is not None:
            out = t if out is None else out.join(t)
    return out


def mark_secret(t: Taint | None, name: str | None) -> Taint | None:
    """Accessing a secret-named field (or naming a variable after one) makes the value secret."""
    if t is None or name is None or t.secret or not is_secret_name(name):
        return t
    return t.as_secret()


def access(t: Taint | None, name: str | None, shown: str) -> Taint | None:
    """Taint of a field read ``t[name]``: keeps a readable source path for messages."""
    if t is None:
        return None
    source = t.source + shown if name is not None and len(t.source) < 40 else t.source
    return mark_secret(Taint(t.direct, t.secret, source), name)


@dataclass(frozen=True)
class CallResult:
    """What an analysed callee returns; a resolver answers ``None`` for opaque callees."""

    taint: Taint | None


def tmp_write_messages(path: str, fixed: bool, data: Taint | None) -> list[tuple[str, str]]:
    """The findings for a /tmp write that is never cleaned, worded once for both languages."""
    what = "request data" if data is not None else "a file"
    if fixed:
        msg = (
            f"writes {what} to fixed path '{path}' and never removes it; the next "
            "invocation in this environment finds it there"
        )
    else:
        msg = (
            f"writes {what} to per-request path '{path}' and never removes it; files "
            "accumulate in this environment's /tmp"
        )
    found = [("KW103", msg)]
    if data is not None and data.secret:
        found.append(
            (
                "KW104",
                f"secret request data ({data.source}) written to '{path}', which outlives "
                "the invocation",
            )
        )
    return found


def unbounded(container: str, line: int) -> str:
    """The KW102 message, worded once for both languages."""
    return (
        f"module-level container '{container}' (line {line}) grows with request-derived "
        "entries and is never evicted"
    )
