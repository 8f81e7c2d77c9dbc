"""orc through the real keepwarm runtime: warm reuse keeps L1, a new environment starts empty."""

from __future__ import annotations

import socket
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from keepwarm import FunctionConfig, Runtime

HANDLER = textwrap.dedent(
    """
    import os
    import socket

    from keepwarm import orc

    CACHE = orc.Cache(name="lookups", ttl=300)


    def slow_lookup(key):
        return {"key": key, "loaded_by": os.getpid()}


    def _meet(port):
        # Environments have private /tmp, so the barrier is a socket: the test answers only
        # once every invocation is inside, forcing them into separate environments.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            if sock.recv(1) != b"g":
                raise RuntimeError("gate closed")


    def handler(event, context):
        if event.get("gate_port"):
            _meet(event["gate_port"])
        value = CACHE.get_or_set(event["k"], lambda: slow_lookup(event["k"]))
        return {"value": value, "stats": CACHE.stats(), "pid": os.getpid()}
    """
)


@pytest.fixture
def config(tmp_path: Path) -> FunctionConfig:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return FunctionConfig(
        name="orcfn", handler="app.handler", code_dir=code, runtime="python3.12", timeout_s=30
    )


def _call(rt: Runtime, event: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    res = rt.invoke("orcfn", event)
    body = res.json()
    assert isinstance(body, dict), body
    return res.start_kind.value, str(res.env_id), body


def test_warm_invocations_hit_the_environments_cache(config: FunctionConfig) -> None:
    with Runtime([config]) as rt:
        kinds, envs, stats = [], set(), []
        for _ in range(3):
            kind, env_id, body = _call(rt, {"k": "user:1"})
            kinds.append(kind)
            envs.add(env_id)
            stats.append(body["stats"])
        assert kinds == ["cold", "warm", "warm"]
        assert len(envs) == 1
        assert [s["hits"] for s in stats] == [0, 1, 2]
        assert [s["origin_calls"] for s in stats] == [1, 1, 1]
        assert stats[2]["env_age_s"] > stats[0]["env_age_s"]
        exported = rt.environments("orcfn")[0]["orc"]
        assert exported["lookups"]["hits"] == 2  # the runtime exported snapshot_all()


def test_a_new_environment_starts_with_an_empty_cache(config: FunctionConfig) -> None:
    with Runtime([config]) as rt:
        _call(rt, {"k": "user:1"})
        kind, _, body = _call(rt, {"k": "user:1"})
        assert kind == "warm" and body["stats"]["hits"] == 1
    with Runtime([config]) as rt:  # e.g. after a deploy, or the old environment was reclaimed
        kind, _, body = _call(rt, {"k": "user:1"})
        assert kind == "cold"
        assert (body["stats"]["hits"], body["stats"]["misses"]) == (0, 1)


def _open_gate(listener: socket.socket, parties: int) -> None:
    """Accept ``parties`` connections, then release them all at once."""
    conns = [listener.accept()[0] for _ in range(parties)]
    for conn in conns:
        conn.sendall(b"g")
        conn.close()


def test_concurrent_environments_each_have_their_own_l1(config: FunctionConfig) -> None:
    with Runtime([config]) as rt, socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        port = listener.getsockname()[1]
        _call(rt, {"k": "user:1"})  # warm one environment first
        results: list[tuple[str, str, dict[str, Any]]] = []
        lock = threading.Lock()

        def invoke() -> None:
            outcome = _call(rt, {"k": "user:1", "gate_port": port})
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=invoke) for _ in range(2)]
        for thread in threads:
            thread.start()
        _open_gate(listener, 2)
        for thread in threads:
            thread.join()
        assert len({env for _, env, _ in results}) == 2
        assert all("stats" in body for _, _, body in results), results
        by_kind = {kind: body["stats"] for kind, _, body in results}
        assert set(by_kind) == {"cold", "warm"}
        assert by_kind["warm"]["hits"] == 1  # the reused environment kept its L1
        assert (by_kind["cold"]["hits"], by_kind["cold"]["origin_calls"]) == (0, 1)
