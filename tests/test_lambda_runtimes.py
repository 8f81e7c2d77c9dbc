"""keepwarm's copy of Lambda's runtime identifiers stays botocore's (the server does not import
botocore), and what it says of each runtime it does not run is consistent."""

from __future__ import annotations

import botocore.loaders

from keepwarm.config import NODE_RUNTIMES, PYTHON_RUNTIMES, RUNTIMES
from keepwarm.lambda_runtimes import DEPRECATED, LAMBDA_RUNTIMES, WHAT_RUNS


def test_lambda_runtimes_are_botocores_runtime_enum() -> None:
    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    enum = set(model["shapes"]["Runtime"]["enum"])
    assert set(LAMBDA_RUNTIMES) == enum, (
        "update keepwarm/lambda_runtimes.py LAMBDA_RUNTIMES to botocore's Runtime enum: "
        f"add {sorted(enum - LAMBDA_RUNTIMES)}, drop {sorted(LAMBDA_RUNTIMES - enum)}"
    )
    assert RUNTIMES <= LAMBDA_RUNTIMES


def test_deprecated_runtimes_recommend_the_newest_of_their_language() -> None:
    assert set(DEPRECATED) <= LAMBDA_RUNTIMES - RUNTIMES
    assert set(DEPRECATED.values()) <= LAMBDA_RUNTIMES - set(DEPRECATED)
    newest_python = max(PYTHON_RUNTIMES, key=lambda r: int(r.removeprefix("python3.")))
    newest_node = max(NODE_RUNTIMES, key=lambda r: int(r.removeprefix("nodejs")[:-2]))
    for old, new in DEPRECATED.items():
        if old.startswith("python"):
            assert new == newest_python, old
        if old.startswith("nodejs"):
            assert new == newest_node, old
    assert WHAT_RUNS == "Python 3.9-3.14, Node.js 18-24, provided"
