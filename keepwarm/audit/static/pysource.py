"""Reading Python source files the way the interpreter does.

A handler file may legally be stored in any encoding it declares (PEP 263 coding cookie) or
start with a UTF-8 BOM. Decoding it as plain UTF-8 would reject code that Lambda runs
happily, and the audit would then miss that file's leaks; so every place that reads a
Python file goes through here.
"""

from __future__ import annotations

import tokenize
from pathlib import Path


def read_python_source(path: Path) -> str:
    """Text of ``path`` decoded per its BOM / coding cookie (UTF-8 when neither is present).

    Raises ``SyntaxError`` (unknown or conflicting declared encoding) or
    ``UnicodeDecodeError`` (bytes invalid in that encoding) exactly where the interpreter
    would refuse the file too, so callers can treat both as "cannot parse". Returning a
    ``str`` keeps ``ast.parse`` from applying the cookie a second time.
    """
    with tokenize.open(path) as handle:
        return handle.read()
