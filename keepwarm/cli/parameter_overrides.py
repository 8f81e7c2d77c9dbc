"""``--parameter-overrides``: template Parameters from the command line, in SAM CLI's syntax.

Why SAM's syntax and not a keepwarm one: people copy their ``sam local`` command lines. SAM CLI
takes ``ParameterKey=Name,ParameterValue=Value`` and ``Name=Value`` entries separated by spaces,
a value quoted (``Name="a b"``, ``Name='a b'``) or with backslash escapes (``a\\ b``), and every
word after the option up to the next option (``--parameter-overrides A=1 B=2``). Unlike SAM CLI,
which skips what its pattern does not match, a malformed entry is a usage error naming it; and
repeating the option adds to the earlier ones where SAM CLI keeps only the last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperOption

OPTION = "--parameter-overrides"
_FORMS = "Name=Value or ParameterKey=Name,ParameterValue=Value"
_SPACES = 'a value with spaces is quoted: Name="a b"'  # the shell ate the quotes
_WORDS = "the option takes every word up to the next option"  # e.g. invoke's FUNCTION
_NAME = r"""(?P<quote>["']?)(?P<name>[A-Za-z0-9]+)(?P=quote)"""
_QUOTED = r""""(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'"""
_BARE = r"""(?:(?:\\.|[^\s"'\\])(?:\\.|[^\s"\\])*)?"""  # may hold ', not start with one
_VALUE = rf"(?P<value>{_QUOTED}|{_BARE})(?=\s|$)"
_LONG = re.compile(rf"ParameterKey={_NAME},ParameterValue={_VALUE}")
_SHORT = re.compile(rf"{_NAME}={_VALUE}")


@dataclass(frozen=True)
class Entries:
    """The (name, value) pairs of one word given to the option, in order."""

    pairs: tuple[tuple[str, str], ...]


def parse_word(word: str) -> Entries:
    """One command-line word: any number of entries separated by spaces."""
    pairs: list[tuple[str, str]] = []
    at = _skip(word, 0)
    while at < len(word):
        long = word.startswith("ParameterKey=", at)
        match = (_LONG if long else _SHORT).match(word, at)
        if match is None:
            raise typer.BadParameter(_problem(word, at, long))
        pairs.append((match["name"], _unquote(match["value"])))
        at = _skip(word, match.end())
    return Entries(tuple(pairs))


def _skip(word: str, at: int) -> int:
    while at < len(word) and word[at].isspace():
        at += 1
    return at


def _unquote(value: str) -> str:
    """As SAM CLI reads a value: wrapping quotes dropped, then ``\\ ``, ``\\"``, ``\\'``
    unescaped (any other backslash stays)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.replace("\\ ", " ").replace('\\"', '"').replace("\\'", "'")


def _problem(word: str, at: int, long: bool) -> str:
    """What is wrong with the entry at ``word[at:]``, naming it."""
    rest = word[at:]
    piece = rest.split(None, 1)[0]
    name, equals, value = rest.partition("=")
    if long:
        return f"'{piece}' is not ParameterKey=Name,ParameterValue=Value"
    if not equals or any(c.isspace() for c in name):
        return f"'{piece}' is not {_FORMS} ({_SPACES if word[:at].strip() else _WORDS})"
    if re.fullmatch(_NAME, name) is None:
        return f"'{piece}': '{name}' is not a parameter name (letters and digits only)"
    if value.startswith(("'", '"')) and re.match(_QUOTED, value) is None:
        return f"'{rest}': the value's closing {value[0]} is missing"
    return f"'{piece}' is not {_FORMS} (quote a value that holds spaces or quotes)"


def merged(words: Iterable[Entries] | None) -> dict[str, str]:
    """Every occurrence of the option, later entries winning, as later ones do in SAM CLI."""
    return {name: value for entries in words or () for name, value in entries.pairs}


ParameterOverrides = Annotated[
    list[Entries] | None,
    typer.Option(
        OPTION,
        parser=parse_word,
        metavar="NAME=VALUE ...",
        help="Override template Parameters, in SAM CLI's syntax (Name=Value ...).",
        show_default=False,
    ),
]


class TemplateCommand(TyperCommand):
    """A command that reads a template: its ``--parameter-overrides`` takes every word up to the
    next option, as SAM CLI's does (each word is passed on as one occurrence of the option)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: as in failures.py
        return super().parse_args(ctx, spread(args, self._valued()))

    def _valued(self) -> frozenset[str]:
        """Options whose next word is their value, whatever it looks like."""
        return frozenset(
            name
            for param in self.params
            if isinstance(param, TyperOption) and not param.is_flag and not param.count
            for name in param.opts
        )


def spread(args: list[str], valued: frozenset[str]) -> list[str]:
    """``--parameter-overrides A=1 B=2`` as ``--parameter-overrides A=1 --parameter-overrides B=2``.

    The word right after the option is its value whatever it is (click takes it); the words
    after that are taken while they do not start with ``-``; ``--`` ends all option parsing.
    """
    out: list[str] = []
    at = 0
    while at < len(args):
        word = args[at]
        at += 1
        if word == "--":
            return [*out, word, *args[at:]]
        out.append(word)
        if word == OPTION:
            out += args[at : at + 1]
            at += 1
        elif not word.startswith(OPTION + "="):
            if word in valued:
                out += args[at : at + 1]
                at += 1
            continue
        while at < len(args) and not args[at].startswith("-"):
            out += [OPTION, args[at]]
            at += 1
    return out


def refuse(reason: str) -> NoReturn:
    """A usage error about the option (exit 2, the option named as click names it)."""
    raise typer.BadParameter(reason, param_hint=f"'{OPTION}'")
