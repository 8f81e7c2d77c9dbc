"""Handler resolution and every §9.2 init error, with AWS's exact types and messages."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from keepwarm.runtimes.python.errors import FaultError
from keepwarm.runtimes.python.handler import load_handler

from .conftest import TaskRoot

RUNTIME_DIR = os.path.dirname(os.path.abspath(load_handler.__code__.co_filename))


def fault_of(handler: str) -> FaultError:
    with pytest.raises(FaultError) as caught:
        load_handler(handler)
    return caught.value


def test_module_function_is_returned(task_root: TaskRoot) -> None:
    task_root.write("app.py", "def handler(event, context):\n    return event['x'] * 2\n")
    assert load_handler("app.handler")({"x": 21}, None) == 42


def test_module_code_runs_once_at_load(task_root: TaskRoot) -> None:
    task_root.write(
        "app.py", "import os\nCOUNT = [os.getcwd()]\ndef handler(e, c):\n    return e\n"
    )
    handler = load_handler("app.handler")
    assert [str(task_root.path)] == sys.modules["app"].COUNT
    assert handler(1, None) == 1


def test_dotted_package_path(task_root: TaskRoot) -> None:
    task_root.write("pkg/__init__.py", "")
    task_root.write("pkg/sub/__init__.py", "")
    task_root.write("pkg/sub/mod.py", "def fn(e, c):\n    return 'pkg'\n")
    assert load_handler("pkg.sub.mod.fn")(None, None) == "pkg"


def test_slash_directory_path(task_root: TaskRoot) -> None:
    task_root.write("src/app.py", "def handler(e, c):\n    return 'src'\n")
    assert load_handler("src/app.handler")(None, None) == "src"


def test_split_at_last_dot(task_root: TaskRoot) -> None:
    task_root.write("a/b.py", "class K:\n    pass\nfn = lambda e, c: 'last'\n")
    assert load_handler("a/b.fn")(None, None) == "last"


@pytest.mark.parametrize("handler", ["nodot", ""])
def test_malformed_handler_name(handler: str) -> None:
    fault = fault_of(handler)
    assert fault.error_type == "Runtime.MalformedHandlerName"
    assert (
        fault.message == f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)"
    )
    assert fault.payload() == {
        "errorMessage": fault.message,
        "errorType": "Runtime.MalformedHandlerName",
        "requestId": "",
        "stackTrace": [],
    }


@pytest.mark.parametrize(("handler", "module"), [("sys.handler", "sys"), ("sys.x.h", "sys.x")])
def test_built_in_module_conflict(handler: str, module: str) -> None:
    fault = fault_of(handler)
    assert fault.error_type == "Runtime.BuiltInModuleConflict"
    assert fault.message == f"Cannot use built-in module {module} as a handler module"
    assert fault.stack_trace == []


def test_missing_module(task_root: TaskRoot) -> None:
    fault = fault_of("lambda_function.lambda_handler")
    assert fault.error_type == "Runtime.ImportModuleError"
    assert fault.message == (
        "Unable to import module 'lambda_function': No module named 'lambda_function'"
    )
    assert fault.payload()["stackTrace"] == []


def test_missing_dependency_of_the_module(task_root: TaskRoot) -> None:
    task_root.write("app.py", "import requests_not_installed_here\n")
    fault = fault_of("app.handler")
    assert fault.error_type == "Runtime.ImportModuleError"
    assert fault.message == (
        "Unable to import module 'app': No module named 'requests_not_installed_here'"
    )


def test_import_error_message_keeps_slash_form(task_root: TaskRoot) -> None:
    fault = fault_of("src/nothere.handler")
    assert fault.message == "Unable to import module 'src/nothere': No module named 'src'"


def test_syntax_error(task_root: TaskRoot) -> None:
    path = task_root.write("bad.py", "x = 1\ndef f(:\n    pass\n")
    with pytest.raises(SyntaxError) as compiled:
        compile(path.read_text(), str(path), "exec")
    expected = compiled.value
    expected_message = str(expected).replace(str(path), "bad.py")
    fault = fault_of("bad.handler")
    assert fault.error_type == "Runtime.UserCodeSyntaxError"
    assert fault.message == f"Syntax error in module 'bad': {expected_message}"
    assert fault.stack_trace == [f'  File "{path}" Line {expected.lineno}\n    def f(:\n']


def test_handler_not_found(task_root: TaskRoot) -> None:
    task_root.write("app.py", "def handler(e, c):\n    return 1\n")
    fault = fault_of("app.nope")
    assert fault.error_type == "Runtime.HandlerNotFound"
    assert fault.message == "Handler 'nope' missing on module 'app'"
    assert fault.stack_trace == []


def test_other_init_exception_keeps_its_type_and_user_frames(task_root: TaskRoot) -> None:
    path = task_root.write("app.py", "X = 1\nraise Exception('Init fails')\n")
    fault = fault_of("app.handler")
    assert fault.error_type == "Exception"
    assert fault.message == "Init fails"
    assert fault.stack_trace[-1] == (
        f"  File \"{path}\", line 2, in <module>\n    raise Exception('Init fails')\n"
    )
    assert "importlib" in fault.stack_trace[0]
    assert not any(RUNTIME_DIR in frame for frame in fault.stack_trace)


def test_custom_exception_class_has_no_module_prefix(task_root: TaskRoot) -> None:
    task_root.write(
        "app.py", "class ConfigError(Exception):\n    pass\nraise ConfigError('no cfg')\n"
    )
    fault = fault_of("app.handler")
    assert (fault.error_type, fault.message) == ("ConfigError", "no cfg")


def test_module_getattr_failure_is_generic(task_root: TaskRoot) -> None:
    task_root.write("app.py", "def __getattr__(name):\n    raise KeyError(name)\n")
    fault = fault_of("app.handler")
    assert (fault.error_type, fault.message) == ("KeyError", "'handler'")


def test_system_exit_during_init_is_not_converted(task_root: TaskRoot) -> None:
    task_root.write("app.py", "import sys\nsys.exit(3)\n")
    with pytest.raises(SystemExit):
        load_handler("app.handler")


ORACLE_CASES = [
    "nodot",
    "sys.handler",
    "missing_mod.handler",
    "src/missing.handler",
    "dep.handler",
    "syntax.handler",
    "ok.nope",
]


@pytest.mark.parametrize("handler", ORACLE_CASES)
def test_matches_awslambdaric(task_root: TaskRoot, handler: str) -> None:
    bootstrap: Any = pytest.importorskip("awslambdaric.bootstrap")
    fault_exception = pytest.importorskip("awslambdaric.lambda_runtime_exception").FaultException
    task_root.write("dep.py", "import not_a_real_dependency_xyz\n")
    task_root.write("syntax.py", "def broken(:\n")
    task_root.write("ok.py", "def handler(e, c):\n    return 1\n")
    with pytest.raises(fault_exception) as theirs:
        bootstrap._get_handler(handler)
    ours = fault_of(handler)
    expected = (theirs.value.exception_type, theirs.value.msg, theirs.value.trace or [])
    assert (ours.error_type, ours.message, ours.stack_trace) == expected
