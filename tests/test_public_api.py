"""The names ``keepwarm`` exports: exactly these, each resolving, none imported before use."""

from __future__ import annotations

import subprocess
import sys

import keepwarm

PUBLIC = [
    "AsyncRuntime",
    "BadFunction",
    "FakeClock",
    "FunctionConfig",
    "FunctionNotFound",
    "InvocationResult",
    "KeepwarmError",
    "Runtime",
    "ServerConfig",
    "ServiceError",
    "StartKind",
    "SystemClock",
    "TemplateError",
    "Throttled",
    "__version__",
    "load_template",
]


def test_the_public_names_are_exactly_these_and_each_resolves() -> None:
    assert sorted(keepwarm.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(keepwarm, name) is not None
    assert issubclass(keepwarm.BadFunction, keepwarm.TemplateError)
    assert issubclass(keepwarm.TemplateError, keepwarm.KeepwarmError)


def test_importing_keepwarm_imports_none_of_them_yet() -> None:
    """Function code imports ``keepwarm.orc`` inside environments (and on real Lambda): the
    package itself must not drag the server in."""
    code = "import keepwarm, sys; print(sorted(m for m in sys.modules if m.startswith('keepwarm')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['keepwarm']"
