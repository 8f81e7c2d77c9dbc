"""Lambda operations keepwarm does not implement, found from a request's method and path.

Why: a routing miss used to answer a bare "Not Found", which tells a deploy tool calling
AddPermission nothing. A request for an operation Lambda has and ``routes.ROUTES`` does not
serve gets ``UnknownOperationException`` naming it. ``lambda_operations.json`` lists every
operation of botocore's ``lambda`` model (name, method, request URI): the server does not depend
on botocore, so the table is copied, and tests/lambda_api/test_unimplemented.py checks it
against the installed botocore so it cannot drift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from keepwarm.errors import UnknownOperation
from keepwarm.lambda_api.routes import ROUTES

TABLE = Path(__file__).with_name("lambda_operations.json")


@dataclass(frozen=True)
class Binding:
    """One operation's HTTP binding: a path pattern and the query members its URI fixes
    (``?List=ALL`` tells ListProvisionedConcurrencyConfigs from GetProvisionedConcurrencyConfig)."""

    method: str
    path: re.Pattern[str]
    query: tuple[tuple[str, str], ...]
    name: str


def _binding(method: str, uri: str, name: str) -> Binding:
    """A ``{Label}`` is one percent-encoded segment (``{Label+}``, any rest); a trailing slash
    is optional, as for the served routes."""
    path, _, query = uri.partition("?")
    parts = re.split(r"(\{[^}]+\})", path.rstrip("/"))
    pattern = "".join(
        (".+" if p.endswith("+}") else "[^/]+") if p.startswith("{") else re.escape(p)
        for p in parts
    )
    return Binding(method, re.compile(f"{pattern}/?"), tuple(parse_qsl(query)), name)


def _bindings() -> tuple[Binding, ...]:
    served = {op.name for op in ROUTES}
    rows = [_binding(*row) for row in json.loads(TABLE.read_text()) if row[2] not in served]
    return tuple(sorted(rows, key=lambda b: not b.query))  # the more specific URIs first


UNIMPLEMENTED = _bindings()


def operation_at(method: str, raw_path: str, query: str) -> str | None:
    """The unimplemented operation a request names, if any; ``raw_path`` as sent (still
    percent-encoded, so an ARN's ``%2F`` stays inside its segment)."""
    method = "GET" if method == "HEAD" else method
    given = dict(parse_qsl(query, keep_blank_values=True))
    for binding in UNIMPLEMENTED:
        if (
            binding.method == method
            and binding.path.fullmatch(raw_path)
            and all(given.get(k) == v for k, v in binding.query)
        ):
            return binding.name
    return None


def error_at(scope: Any) -> UnknownOperation | None:
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    name = operation_at(
        scope["method"], raw.decode("latin-1"), scope["query_string"].decode("latin-1")
    )
    return UnknownOperation(name) if name is not None else None
