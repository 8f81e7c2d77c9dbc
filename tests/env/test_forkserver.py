"""The fork server keeps a new interpreter's semantics: each environment is its own world.

Forking a pre-imported template must not let environments share what a fresh process would
not: module globals, random state, /tmp, the process group, limits applied before user code.
The same probe runs in snapshot mode (tests/env/test_snapshot.py); timing is never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keepwarm import Runtime, ServerConfig
from keepwarm.env import users
from tests.helpers import function

PROBE = """
import os, random, resource, uuid

INIT_PID = os.getpid()
INIT_RANDOM = random.random()
INIT_UUID = str(uuid.uuid4())
counter = 0
if os.path.exists("/tmp/seen-by-init"):
    raise RuntimeError("/tmp is shared with an earlier environment")
open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "seen-by-init"), "w").close()

def handler(event, context):
    global counter
    counter += 1
    tmp = os.environ.get("TMPDIR", "/tmp")
    others = sorted(os.listdir(tmp))
    with open(os.path.join(tmp, f"mine-{os.getpid()}"), "w") as fh:
        fh.write("x")
    return {
        "pid": os.getpid(),
        "init_pid": INIT_PID,
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "counter": counter,
        "init_random": INIT_RANDOM,
        "random": random.random(),
        "init_uuid": INIT_UUID,
        "uuid": str(uuid.uuid4()),
        "urandom": os.urandom(8).hex(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "tmp": others,
        "env": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
"""


def cold_probes(rt: Runtime, name: str, n: int) -> list[dict[str, Any]]:
    """``n`` invocations, each in a new environment (max one invocation per environment)."""
    out = []
    for _ in range(n):
        result = rt.invoke(name, {})
        assert result.function_error is None, result.payload
        out.append({**json.loads(result.payload), "env_id": result.env_id})
    return out


def kept_under_tmp() -> list[str]:
    """Top-level /tmp entries keepwarm itself puts there: its own install, when it lives under
    /tmp (a checkout there), is bound back read-only so the runtime stays importable."""
    return sorted({Path(p).relative_to("/tmp").parts[0] for p in users.under_tmp()})


def assert_isolated(probes: list[dict[str, Any]]) -> None:
    """Every environment a separate process, session, group and /tmp, with fresh state."""
    assert len({p["env_id"] for p in probes}) == len(probes)
    assert len({p["pid"] for p in probes}) == len(probes)
    for p in probes:
        assert p["counter"] == 1  # fresh globals
        assert p["pgid"] == p["pid"] == p["sid"]  # own session and process group
        assert p["nofile"] == 1024  # limits applied before user code
        assert p["tmp"] == sorted(["seen-by-init", *kept_under_tmp()])  # nothing from others
    for key in ("random", "uuid", "urandom"):
        assert len({p[key] for p in probes}) == len(probes), key


@pytest.mark.parametrize("mode", ["fork", "fresh"])
def test_forked_environments_are_as_isolated_as_fresh_ones(tmp_path: Path, mode: str) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", launch_mode=mode)
    cfg = function(tmp_path, "probe", PROBE, max_invocations_per_env=1)
    with Runtime([cfg], server=server) as rt:
        probes = cold_probes(rt, "probe", 3)
    assert_isolated(probes)
    for p in probes:  # Init ran in the environment's own process
        assert p["init_pid"] == p["pid"]
    assert len({p["init_random"] for p in probes}) == 3
    assert len({p["init_uuid"] for p in probes}) == 3
    assert len({p["env"] for p in probes}) == 3  # own log stream


def test_concurrent_environments_do_not_share_globals(tmp_path: Path, server: ServerConfig) -> None:
    import threading

    source = """
    import time
    seen = []

    def handler(event, context):
        seen.append(event["i"])
        time.sleep(0.3)
        return list(seen)
    """
    results: dict[int, object] = {}
    with Runtime([function(tmp_path, "g", source)], server=server) as rt:

        def call(i: int) -> None:
            results[i] = rt.invoke("g", {"i": i}).json()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == {0: [0], 1: [1], 2: [2]}


def test_hash_seed_is_shared_by_forks_and_documented(tmp_path: Path, server: ServerConfig) -> None:
    """Forks inherit the template's hash seed (a fresh interpreter would draw its own).

    Pinned so that a change is noticed: docs/snapshot.md says so, and code must not rely on
    ``hash()`` of strings differing between environments (it never may on Lambda either).
    """
    source = """
    def handler(event, context):
        return hash("keepwarm")
    """
    cfg = function(tmp_path, "h", source, max_invocations_per_env=1)
    with Runtime([cfg], server=server) as rt:
        values = {rt.invoke("h", {}).json() for _ in range(2)}
    assert len(values) == 1


FDS = """
import os

def handler(event, context):
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return out
"""


def test_an_environment_holds_none_of_the_fork_servers_descriptors(
    tmp_path: Path, server: ServerConfig
) -> None:
    """It held the fork server's epoll: a handler could register a descriptor there that made
    the fork server block, and another function's crash then surfaced 10 s late as a timeout
    (found by black-box testing)."""
    with Runtime([function(tmp_path, "fds", FDS)], server=server) as rt:
        held = rt.invoke("fds").json()
    assert not [t for t in held.values() if "eventpoll" in t], held
    assert len([t for t in held.values() if t.startswith("socket:")]) == 1, held  # its control
