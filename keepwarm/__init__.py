"""keepwarm: AWS-Lambda-style functions on your machine, with environment reuse reproduced
faithfully and made visible, measurable and safe.

Names are imported lazily: function code imports ``keepwarm.orc`` inside environments (and on
real Lambda), and that must not drag the server in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AsyncRuntime": "keepwarm.api",
    "Runtime": "keepwarm.api",
    "FakeClock": "keepwarm.clock",
    "SystemClock": "keepwarm.clock",
    "FunctionConfig": "keepwarm.config",
    "ServerConfig": "keepwarm.config",
    "BadFunction": "keepwarm.errors",
    "FunctionNotFound": "keepwarm.errors",
    "KeepwarmError": "keepwarm.errors",
    "ServiceError": "keepwarm.errors",
    "TemplateError": "keepwarm.errors",
    "Throttled": "keepwarm.errors",
    "InvocationResult": "keepwarm.invocation",
    "StartKind": "keepwarm.invocation",
    "load_template": "keepwarm.template",
}

__all__ = [
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

if TYPE_CHECKING:
    from keepwarm.api import AsyncRuntime, Runtime
    from keepwarm.clock import FakeClock, SystemClock
    from keepwarm.config import FunctionConfig, ServerConfig
    from keepwarm.errors import (
        BadFunction,
        FunctionNotFound,
        KeepwarmError,
        ServiceError,
        TemplateError,
        Throttled,
    )
    from keepwarm.invocation import InvocationResult, StartKind
    from keepwarm.template import load_template


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keepwarm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
