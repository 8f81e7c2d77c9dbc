"""A real two-node Ray cluster on this machine, for the ``--backend ray`` tests.

Ray binds every interface, so these tests run only in a private network namespace where
loopback is the only interface (``scripts/test`` runs the suite in one, as root).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lambda_api.kw_server import start_server

__all__ = ["ray_cluster", "start_server"]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    if os.environ.get("KEEPWARM_PRIVATE_NETWORK") != "1":  # set by scripts/in_netns.py
        pytest.skip("Ray binds every interface: run in a private network namespace (scripts/test)")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(
        initialize_head=True, connect=False, head_node_args={**node, "include_dashboard": False}
    )
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()
