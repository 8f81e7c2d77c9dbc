"""The first code an environment's process runs: set itself up, then become the runtime.

Imported by the fork-server template (``zygote``) before any fork, so a cold start only pays for
the fork and the user's own Init. Also runnable as ``python -m keepwarm.env.child SPEC`` for
the fresh-interpreter launch mode (the benchmark's baseline, and a fallback).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any, NoReturn

from keepwarm.env import isolation, packages, sched

SETUP_FAILED = 126
EXEC_FAILED = 127


def _stdio(log_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if log_fd > 2:
        os.close(log_fd)


def _environ(env: dict[str, str]) -> None:
    """The function's variables replace the fork server's. ``tzset``: the C library read
    ``TZ`` when the server started; a function setting its own (``Asia/Tokyo``) expects local
    time in it, as on Lambda, where ``TZ`` is not reserved."""
    os.environ.clear()
    os.environ.update(env)
    time.tzset()


def python_path(task_root: str, options: dict[str, Any]) -> None:
    """The task root first, then the layers' directories (see env.layers); of the server's
    packages only ``importable`` ones (see env.packages), or all of them when that is None."""
    first = [task_root, *options.get("layer_paths", ())]
    importable = options.get("importable")
    if importable is not None:
        packages.restrict(first, importable)
        return
    here = os.getcwd()
    kept = [p for p in sys.path if p and p != here and p not in first]
    sys.path[:] = [*first, *kept]


def _become_runtime(spec: dict[str, Any], ctl_fd: int) -> NoReturn:
    if spec["mode"] == "exec":
        os.close(ctl_fd)
        argv = spec["argv"]
        try:
            os.execve(argv[0], argv, spec["env"])
        except OSError as exc:
            sys.stderr.write(f"exec {argv[0]}: {exc.strerror}\n")
            os._exit(EXEC_FAILED)
    from keepwarm.runtimes.python import bootstrap, transport

    options = spec.get("options", {})
    python_path(spec["task_root"], options)
    chosen: bootstrap.Transport
    if options.get("transport") == "runtime-api":
        os.close(ctl_fd)
        chosen = transport.RuntimeApiTransport(os.environ["AWS_LAMBDA_RUNTIME_API"])
    else:
        chosen = transport.PipeTransport(ctl_fd)
    bootstrap.main(chosen, options)


def run(spec: dict[str, Any], ctl_fd: int, log_fd: int) -> NoReturn:
    """Set up this process as an environment and hand it to the runtime; never returns."""
    try:
        os.setsid()
        _stdio(log_fd)
        isolation.apply(spec)
        sched.apply(spec.get("sched", "normal"))
        _environ(spec["env"])
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(SETUP_FAILED)
    try:
        _become_runtime(spec, ctl_fd)
    except SystemExit as exc:
        _exit_like_python(exc)
    except KeyboardInterrupt:
        traceback.print_exc()
        _exit_like_python(SystemExit(1), by_signal=signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        _exit_like_python(SystemExit(1))


def _exit_like_python(exc: SystemExit, by_signal: int | None = None) -> NoReturn:
    """A forked runtime cannot return to the interpreter's own exit path: mimic it. An
    uncaught KeyboardInterrupt ends Python by SIGINT (``by_signal``), not with a status."""
    code = exc.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code & 0xFF
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()  # the handler's atexit hooks run, as when Python exits
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if by_signal is not None:
        signal.signal(by_signal, signal.SIG_DFL)
        os.kill(os.getpid(), by_signal)
    os._exit(status)


if __name__ == "__main__":
    _spec = json.loads(sys.argv[1])
    run(_spec, int(_spec["ctl_fd"]), int(_spec["log_fd"]))
