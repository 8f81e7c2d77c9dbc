"""The ``keepwarm`` command as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def keepwarm(
    *args: str,
    cwd: Path | None = None,
    tmp: Path | None = None,
    aws: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Wide ``COLUMNS``: Rich would otherwise wrap a long message across lines and panel edges;
    ``tmp`` becomes the command's temporary directory; ``aws``, when given, are the only
    ``AWS_*`` variables the command sees (none of the caller's credentials leak in)."""
    env = {**os.environ, "COLUMNS": "400"}
    if aws is not None:
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")} | aws
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return subprocess.run(
        [sys.executable, "-m", "keepwarm.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *texts: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("keepwarm: ") and done.stderr.count("\n") == 1, done.stderr
    for text in texts:
        assert text in done.stderr


def assert_usage_error(done: subprocess.CompletedProcess[str], *texts: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    for text in texts:
        assert text in done.stderr
