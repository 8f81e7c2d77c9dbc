"""Node.js functions on the machine's ``node``, through ``keepwarm.Runtime`` (real processes)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keepwarm import FunctionConfig, Runtime, ServerConfig
from tests.helpers import write_code

NODE_RUNTIME = "nodejs20.x"


@pytest.fixture(autouse=True)
def _needs_node() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed; scripts/install installs it")


def node_function(
    tmp: Path, name: str, files: dict[str, str], handler: str = "index.handler", **kw: object
) -> FunctionConfig:
    code = write_code(tmp / f"code-{name}", files)
    kw.setdefault("timeout_s", 10)  # node starts slowly on a busy CI machine
    kw.setdefault("runtime", NODE_RUNTIME)
    return FunctionConfig(name=name, handler=handler, code_dir=code, **kw)  # type: ignore[arg-type]


RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[RuntimeFactory]:
    """``runtime(fn, ...)`` starts a Runtime for those functions; all are closed after the test."""
    started: list[Runtime] = []

    def start(*functions: FunctionConfig, **kw: object) -> Runtime:
        rt = Runtime(list(functions), server=ServerConfig(data_dir=tmp_path / "data"), **kw)  # type: ignore[arg-type]
        started.append(rt.start())
        return rt

    yield start
    for rt in started:
        rt.close()
