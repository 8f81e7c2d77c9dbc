"""Handler resolution like aws-lambda-ric: CommonJS, ES modules, nested paths, init errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepwarm import FunctionConfig
from tests.runtimes.node.conftest import RuntimeFactory, node_function

pytestmark = pytest.mark.node

CASES: dict[str, tuple[dict[str, str], str, object]] = {
    "cjs": ({"index.js": "exports.handler = async () => 'cjs';"}, "index.handler", "cjs"),
    "cjsext": (
        {"index.cjs": "module.exports.handler = async () => 'cjs2';"},
        "index.handler",
        "cjs2",
    ),
    "mjs": ({"app.mjs": "export const handler = async () => 'esm';"}, "app.handler", "esm"),
    "typemodule": (
        {
            "package.json": '{"type": "module"}',
            "app.js": "import os from 'os';\nexport const handler = async () => typeof os.cpus;",
        },
        "app.handler",
        "function",
    ),
    "toplevelawait": (
        {"app.mjs": "const v = await Promise.resolve(7);\nexport const handler = async () => v;"},
        "app.handler",
        7,
    ),
    "nested": (
        {"src/lib/mod.js": "exports.deep = { fn: async () => 'nested' };"},
        "src/lib/mod.deep.fn",
        "nested",
    ),
    "nodemodules": (
        {"node_modules/greeter/index.js": "exports.hi = async () => 'from pkg';"},
        "greeter.hi",
        "from pkg",
    ),
}

INIT_ERRORS: dict[str, tuple[dict[str, str], str, str, str]] = {
    "missing": (
        {"other.js": ""},
        "index.handler",
        "Runtime.ImportModuleError",
        "Error: Cannot find module 'index'",
    ),
    "notfound": (
        {"index.js": "exports.other = 1;"},
        "index.handler",
        "Runtime.HandlerNotFound",
        "index.handler is undefined or not exported",
    ),
    "notfn": (
        {"index.js": "exports.handler = 1;"},
        "index.handler",
        "Runtime.HandlerNotFound",
        "index.handler is not a function",
    ),
    "syntax": (
        {"index.js": "exports.handler = async () => {;"},
        "index.handler",
        "Runtime.UserCodeSyntaxError",
        "SyntaxError: ",
    ),
    "throws": (
        {"index.js": "throw new Error('init went wrong');"},
        "index.handler",
        "Error",
        "init went wrong",
    ),
    "badname": ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
}


@pytest.fixture
def fns(tmp_path: Path) -> dict[str, FunctionConfig]:
    out = {
        name: node_function(tmp_path, name, files, handler)
        for name, (files, handler, _) in CASES.items()
    }
    out.update(
        {
            name: node_function(tmp_path, name, files, handler)
            for name, (files, handler, _, _) in INIT_ERRORS.items()
        }
    )
    return out


def test_modules_load(runtime: RuntimeFactory, fns: dict[str, FunctionConfig]) -> None:
    rt = runtime(*[fns[name] for name in CASES])
    for name, (_, _, expected) in CASES.items():
        result = rt.invoke(name, {})
        assert result.ok and result.json() == expected, (name, result.payload, result.logs)


def test_init_errors(runtime: RuntimeFactory, fns: dict[str, FunctionConfig]) -> None:
    rt = runtime(*[fns[name] for name in INIT_ERRORS])
    for name, (_, _, error_type, message) in INIT_ERRORS.items():
        result = rt.invoke(name, {})
        body = result.json()
        assert result.function_error == "Unhandled"
        assert body["errorType"] == error_type, (name, body)
        assert body["errorMessage"].startswith(message), (name, body)
        assert "\tundefined\tERROR\tUncaught Exception \t{" in result.logs
        assert rt.invoke(name, {}).json()["errorType"] == error_type  # Init runs again
