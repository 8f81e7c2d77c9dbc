"""An environment's log pipe (its stdout and stderr) moved into its log stream.

Both functions run on the event loop: ``drain`` as the pipe's reader callback and before an
invocation's END line, ``close`` once the process is gone.
"""

from __future__ import annotations

import asyncio
import os

from keepwarm.env.launcher import Spawned
from keepwarm.observe.logs import LogStream


def drain(
    loop: asyncio.AbstractEventLoop, proc: Spawned, stream: LogStream, reads: int = 64
) -> None:
    """Move what the process wrote to its log stream; at most ``reads`` reads per call.

    Bounded so that a function printing without end cannot hold the event loop here (the
    reader callback comes back on the next loop turn), nor, once the process is dead but a
    child it left behind still writes to the pipe, keep an exit handler spinning.
    """
    for _ in range(reads):
        if proc.log_fd < 0:
            return
        try:
            data = os.read(proc.log_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            _forget(loop, proc)
            return
        stream.write(data)


def close(loop: asyncio.AbstractEventLoop, proc: Spawned, stream: LogStream) -> None:
    """Last read of a finished process's log pipe, then close it even if a writer remains."""
    drain(loop, proc, stream)
    _forget(loop, proc)


def _forget(loop: asyncio.AbstractEventLoop, proc: Spawned) -> None:
    if proc.log_fd >= 0:
        loop.remove_reader(proc.log_fd)
        os.close(proc.log_fd)
        proc.log_fd = -1
