"""``serve --backend``/``--ray-address`` mistakes: a usage error or one line, never a hang."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from keepwarm import ServerConfig
from keepwarm.errors import InvalidParameterValue
from tests.cli.run import assert_usage_error, keepwarm


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--backend", "k8s"], "must be local or ray, not 'k8s'"),
        (["--ray-address", "auto"], "needs --backend ray"),
    ],
)
def test_bad_backend_options_are_usage_errors(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    done = keepwarm("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), *args)
    assert_usage_error(done, expected)


@pytest.mark.parametrize("given", ["option", "RAY_ADDRESS"])
def test_a_cluster_nobody_answers_at_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """Without the check, ``ray.init`` retried for minutes (13 seen, SIGTERM ignored)."""
    with socket.socket() as sock:  # a port that was free a moment ago: refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"127.0.0.1:{port}"
    args = ["serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--backend", "ray"]
    if given == "option":
        args += ["--ray-address", address]
    else:  # read as Ray reads it, for no address (or auto)
        monkeypatch.setenv("RAY_ADDRESS", address)
    done = keepwarm(*args)
    assert done.returncode == 1
    assert (
        done.stderr == f"keepwarm: cannot reach the Ray cluster at {address}: Connection refused\n"
    )


def test_the_backend_is_checked_in_the_python_api() -> None:
    with pytest.raises(InvalidParameterValue, match="backend must be local or ray"):
        ServerConfig(backend="k8s")
