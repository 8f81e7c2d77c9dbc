"""The dependency direction of design.md §2, enforced: leaves stay leaves, the inside stays out.

`runtimes/` runs inside environments and `orc/` inside user code (also on real Lambda): neither
may import the server. `audit/` is a static tool. `env/` never imports the pool or the HTTP layer.
`cluster/` runs environments on a Ray cluster's nodes below the pool, as `env/` runs them here.
`simulate/` replays traffic through the scheduler's pure functions and starts no process.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "keepwarm"

RULES = {
    "runtimes": {"keepwarm.runtimes"},
    "orc": {"keepwarm.orc"},
    "audit": {"keepwarm.audit", "keepwarm.cli.audit_cmd"},
    "env": {
        "keepwarm.env",
        "keepwarm.config",
        "keepwarm.errors",
        "keepwarm.clock",
        "keepwarm.invocation",
        "keepwarm.observe",
        "keepwarm.runtimes",
        "keepwarm.runtime_api",
    },
    "pool": {
        "keepwarm.pool",
        "keepwarm.env",
        "keepwarm.config",
        "keepwarm.errors",
        "keepwarm.clock",
        "keepwarm.invocation",
        "keepwarm.observe",
    },
}
RULES["cluster"] = {  # environments on other machines: the env layer's peer, below the pool
    "keepwarm.cluster",
    "keepwarm.env",
    "keepwarm.config",
    "keepwarm.errors",
    "keepwarm.clock",
    "keepwarm.invocation",
    "keepwarm.observe",
}
RULES["simulate"] = {  # the pool's pure decisions, never what starts processes
    "keepwarm.simulate",
    "keepwarm.pool.scheduler",
    "keepwarm.clock",
    "keepwarm.config",
    "keepwarm.errors",
    "keepwarm.invocation",
}
LEAVES = {"config.py", "errors.py", "clock.py", "invocation.py", "sigv4.py", "lambda_runtimes.py"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "keepwarm":
            names.update(f"keepwarm.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "keepwarm" or n.startswith("keepwarm.")}


def allowed(name: str, prefixes: set[str]) -> bool:
    """The package root is always allowed: its ``__init__`` is lazy and imports nothing."""
    return name == "keepwarm" or any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    bad = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / layer).rglob("*.py")
        for name in imported(path)
        if not allowed(name, RULES[layer])
    }
    assert not bad


def test_leaves_import_only_leaves() -> None:
    leaf_modules = {"keepwarm." + f.removesuffix(".py") for f in LEAVES}
    for leaf in LEAVES:
        assert imported(PACKAGE / leaf) <= leaf_modules, leaf
