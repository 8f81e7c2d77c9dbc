"""Resolving the ``Handler`` setting (``module.function``) to a callable, as AWS does.

An init failure is what the caller of Invoke sees as the function's result, so each failure
mode raises a ``FaultError`` with awslambdaric's exact errorType and message.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from .errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    USER_CODE_SYNTAX_ERROR,
    FaultError,
    user_stack_trace,
)


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import the handler's module (running its init code) and return the function.

    The caller must already have put the task root first on ``sys.path`` and made it the cwd.
    Only ``Exception`` is converted: ``SystemExit`` and the like end the process, as on AWS.
    """
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError(MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}") from exc
    module = _import(module_name)
    try:
        function: Callable[[Any, Any], Any] = getattr(module, function_name)
    except AttributeError as exc:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise FaultError(HANDLER_NOT_FOUND, message) from exc
    except Exception as exc:
        raise _generic_fault(exc) from exc
    return function


def _import(module_name: str) -> Any:
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        raise FaultError(BUILT_IN_MODULE_CONFLICT, message)
    try:
        return importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise FaultError(IMPORT_MODULE_ERROR, message) from exc
    except SyntaxError as exc:
        raise _syntax_fault(module_name, exc) from exc
    except Exception as exc:
        raise _generic_fault(exc) from exc


def _syntax_fault(module_name: str, exc: SyntaxError) -> FaultError:
    """awslambdaric's one synthetic frame: ``File "<f>" Line <n>`` then the offending text."""
    frame = f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}'
    message = f"Syntax error in module '{module_name}': {exc}"
    return FaultError(USER_CODE_SYNTAX_ERROR, message, [frame])


def _generic_fault(exc: Exception) -> FaultError:
    """Any other init exception keeps its own class name, message and user-side frames."""
    return FaultError(type(exc).__name__, str(exc), user_stack_trace(exc.__traceback__))
