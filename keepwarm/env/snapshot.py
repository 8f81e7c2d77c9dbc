"""Snapshot templates (opt-in per function): run Init once, then fork environments from it.

Why: a cold start of a function whose module import is slow (boto3, pandas, a model) pays that
import every time; Lambda SnapStart restores a snapshot taken after Init instead. Here the
snapshot is a live process: the fork server forks a *template* that sets up a function's
environment (code at /var/task, a private /tmp, its variables), imports the handler module and
then serves the fork server's ``spawn`` protocol itself. Each environment forked from it still
gets its own session and process group, cgroup, mount namespace with its own /tmp, rlimits,
variables (its own log stream name) and log pipe, and fresh random state (``random`` reseeds
itself after ``os.fork``; ``os.urandom``, ``uuid4`` and ``secrets`` read the kernel).

What is shared, exactly as with SnapStart (see docs/snapshot.md): everything Init computed.
Values drawn at import (a seeded ``random.Random()``, ``uuid4()`` at module level, tokens,
timestamps), connections opened at import (one socket duplicated into every environment) and
variables read at import (the template's, e.g. its log stream name) are the same in every
environment. The static audit's rule KW106 finds such code; the server warns when it loads a
snapshot function with findings. Python's hash seed is also shared (it is for every fork).

Runs in the template process and its children only: standard library and keepwarm.env/runtime
modules, never the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import shutil
import socket
import sys
import traceback
from typing import Any

from keepwarm.env import child, isolation, memwatch

PR_SET_CHILD_SUBREAPER = 36
_host_ns = -1  # the template's original mount namespace, for its children to go back to
VAR_TASK = "/var/task"  # as keepwarm.env.spec (not imported: that pulls the server's config)


def _template_setup(spec: dict[str, Any]) -> None:
    """The function's environment, minus what is per-environment (cgroup, /tmp, its log)."""
    os.setsid()
    isolation.die_with_parent()
    with contextlib.suppress(OSError, AttributeError):
        isolation.libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    global _host_ns
    tmp = str(spec["snapshot_tmp"])
    if spec.get("namespace"):
        _host_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        code = [(b[0], b[1], bool(b[2])) for b in spec.get("binds", []) if b[1] == VAR_TASK]
        isolation.private_mounts(
            [*code, (tmp, "/tmp", False)],
            spec.get("hide", []),
            spec.get("keep", []),
            spec.get("opt"),
        )
    env = dict(spec["env"])
    if "TMPDIR" in env:
        env["TMPDIR"] = tmp
    os.environ.clear()
    os.environ.update(env)
    os.chdir(spec["cwd"])
    child.python_path(spec["task_root"], spec.get("options", {}))


def _init(spec: dict[str, Any]) -> str | None:
    """Import the handler module (the function's Init); None on success, else why it failed."""
    from keepwarm.runtimes.python.handler import load_handler

    try:
        load_handler(spec["env"].get("_HANDLER", ""))
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _over_memory(spec: dict[str, Any], before_kb: int) -> str | None:
    """An Init that needed more than the function's memory (the template runs it outside
    any environment's cgroup) fails the template: the function then forks as usual, and its
    Init meets the limit, as on Lambda (``Runtime.OutOfMemory``)."""
    limit_mb = int(spec["env"].get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0") or 0)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb
    if limit_mb and grown_kb > limit_mb * 1024:
        return f"Init used {grown_kb // 1024} MB, more than the function's {limit_mb} MB"
    return None


def _quiet_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def run_template(spec: dict[str, Any], sock_fd: int) -> None:
    """Body of a template process: set up, run Init, then fork environments on request.

    Init output goes nowhere (stdout is /dev/null): it belongs to no environment's stream, as
    a SnapStart Init's output belongs to the version's publication, not to an invocation.
    """
    from keepwarm.env import zygote

    sock = socket.socket(fileno=sock_fd)
    try:
        _quiet_stdio()
        _template_setup(spec)
        before_kb = memwatch.rss_bytes(os.getpid()) // 1024
        failure = _init(spec) or _over_memory(spec, before_kb)
    except BaseException:
        failure = traceback.format_exc(limit=3)
    if failure is not None:
        with contextlib.suppress(OSError):
            sock.send(zygote.encode({"failed": failure}))
        os._exit(child.SETUP_FAILED)
    _quiet_stdio()
    gc.collect()
    gc.freeze()
    server = zygote.Zygote(sock, runner=run_environment)
    server.send({"ready": os.getpid()})
    server.serve()
    os._exit(0)


def run_environment(spec: dict[str, Any], ctl_fd: int, log_fd: int) -> None:
    """In a child of the template: back to the host's mount namespace, then ``child.run``.

    The template's namespace covers the host's /tmp (Init must not write there), so a child
    re-enters the namespace the template started in (an fd kept from before its ``unshare``)
    and then sets itself up exactly as an ordinary fork does: its own namespace with the code
    at /var/task, its own /tmp, the data dir hidden. Whatever Init left in the template's
    /tmp is copied into this environment's /tmp first, as a snapshot would carry it.
    """
    try:
        if _host_ns >= 0:
            _check_setns(isolation.libc().setns(_host_ns, isolation.CLONE_NEWNS))
            os.close(_host_ns)
        _copy_init_tmp(str(spec["snapshot_tmp"]), _own_tmp(spec))
    except BaseException:
        os.dup2(log_fd, 2)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(child.SETUP_FAILED)
    child.run(spec, ctl_fd, log_fd)


def _check_setns(result: int) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), "setns(CLONE_NEWNS)")


def _own_tmp(spec: dict[str, Any]) -> str:
    own = next((b[0] for b in spec.get("binds", []) if b[1] == "/tmp"), None)
    return str(own or spec["env"].get("TMPDIR", ""))


def _copy_init_tmp(template_tmp: str, own_tmp: str) -> None:
    if not own_tmp or not os.path.isdir(template_tmp):
        return
    with os.scandir(template_tmp) as entries:
        if next(entries, None) is None:
            return
    shutil.copytree(template_tmp, own_tmp, symlinks=True, dirs_exist_ok=True)
