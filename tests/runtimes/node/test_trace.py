"""Every invocation's trace header reaches a Node.js function in ``_X_AMZN_TRACE_ID``, as the
Python runtime's does (the X-Ray SDK and Powertools read it there)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.runtimes.node.conftest import RuntimeFactory, node_function

INDEX = "exports.handler = async () => process.env._X_AMZN_TRACE_ID ?? null;\n"
TRACE_RE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")


def test_each_invocation_sees_its_own_trace_header(tmp_path: Path, runtime: RuntimeFactory) -> None:
    rt = runtime(node_function(tmp_path, "traced", {"index.js": INDEX}))
    first, second = rt.invoke("traced").json(), rt.invoke("traced").json()
    assert TRACE_RE.match(first) and TRACE_RE.match(second) and first != second
