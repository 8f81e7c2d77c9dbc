"""Stats per cache, the process-wide snapshot, and orc's promise to stand alone."""

from __future__ import annotations

import ast
import gc
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from keepwarm import orc
from tests.orc.orc_helpers import TickClock

ORC_DIR = Path(orc.__file__).parent


def test_stats_count_every_outcome(clock: TickClock) -> None:
    cache = orc.Cache(name="counted", ttl=10, max_items=2, clock=clock)
    cache.get_or_set("a", lambda: 1)
    cache.get_or_set("a", lambda: 1)
    cache.get("missing")
    cache.set("b", 2)
    cache.set("c", 3)
    clock.advance(11)
    cache.get("b")
    stats = cache.stats()
    expected = {
        "hits": 1,
        "misses": 3,
        "origin_calls": 1,
        "evictions": 1,
        "expirations": 1,
        "items": 1,
        "stale_hits": 0,
        "flight_waits": 0,
        "shared_hits": 0,
        "shared_errors": 0,
        "max_items": 2,
    }
    assert {k: stats[k] for k in expected} == expected
    assert stats["hit_ratio"] == 0.25
    assert stats["bytes"] > 0 and stats["env_age_s"] > 0
    assert all(isinstance(v, int | float) for v in stats.values())
    json.dumps(stats)


def test_snapshot_lists_live_caches_and_forgets_dropped_ones() -> None:
    a = orc.Cache(name="snap-a")
    b = orc.Cache(name="snap-a")
    c = orc.Cache(name="snap-c")
    a.set("x", 1)
    snap = orc.stats.snapshot_all()
    assert {"snap-a", "snap-a#2", "snap-c"} <= snap.keys()
    assert snap["snap-a"]["items"] == 1 and snap["snap-a#2"]["items"] == 0
    del b, c
    gc.collect()
    snap = orc.stats.snapshot_all()
    assert "snap-c" not in snap and "snap-a#2" not in snap
    assert a.stats()["items"] == 1


def test_default_names_point_at_the_creation_site() -> None:
    cache = orc.Cache()
    assert cache.name.startswith(f"{__name__}:")

    @orc.cached
    def lookup() -> int:
        return 1

    assert lookup.cache.name.endswith("lookup")  # type: ignore[attr-defined]


def test_env_age_grows_and_resets_in_a_forked_child(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys, time
        from keepwarm.orc import stats
        time.sleep(0.2)
        parent_age = stats.env_age()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if stats.env_age() < parent_age else 1)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == 0


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, imported at module top level?) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def test_orc_imports_only_the_stdlib_and_itself() -> None:
    lazily_optional = {"redis", "redis.backoff", "redis.retry", "msgpack"}
    for path in ORC_DIR.glob("*.py"):
        for module, top_level in _imports(path):
            root = module.split(".")[0]
            if module.startswith("keepwarm"):
                assert module == "keepwarm.orc" or module.startswith("keepwarm.orc."), path
            elif module in lazily_optional:
                assert not top_level, f"{path.name} imports {module} eagerly"
            else:
                assert root in sys.stdlib_module_names, f"{path.name} imports {module}"


def test_importing_orc_does_not_load_the_server() -> None:
    script = (
        "import sys; import keepwarm.orc; "
        "print([m for m in sys.modules if m.startswith('keepwarm') "
        "and m != 'keepwarm' and not m.startswith('keepwarm.orc')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_orc_runs_vendored_without_site_packages(tmp_path: Path) -> None:
    """What real Lambda sees: only the orc files, the standard library and no redis-py."""
    package = tmp_path / "keepwarm"
    shutil.copytree(ORC_DIR, package / "orc", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text("")
    script = textwrap.dedent(
        """
        import asyncio
        from keepwarm import orc

        calls = []

        @orc.cached(ttl=60)
        def slow(x):
            calls.append(x)
            return x * 2

        @orc.cached(ttl=60)
        async def aslow(x):
            return x * 3

        assert slow(2) == 4 and slow(2) == 4 and calls == [2]
        assert asyncio.run(aslow(2)) == 6
        try:
            orc.Cache(shared="redis://127.0.0.1:1/0")
        except ImportError as exc:
            assert "redis" in str(exc)
        else:
            raise AssertionError("redis-py should be missing here")
        print(sorted(orc.stats.snapshot_all()))
        """
    )
    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + script
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "__main__.slow" in out.stdout
