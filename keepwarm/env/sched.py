"""The CPU scheduling policy of keepwarm's processes: ``batch`` (default) or ``normal``.

Why batch: a warm invocation is a chain of wake-ups between the server and an environment (and
the server and its client). Under the normal policy each process that wakes may preempt the one
that woke it, on the same CPU, before that one has gone back to sleep: the environment is
switched out between sending its answer and waiting for the next event, the server between
delivering an event and its next ``epoll_wait``. ``SCHED_BATCH`` keeps the weights and fairness
of the normal policy but does not preempt on wake-up. On a 2-vCPU VM, throughput at
concurrency 4 rose 4-16 % (three interleaved series of 4-6 server starts each; 7.5 % median on
the longest) and sequential latency did not move. The cost: when the machine is busy with other
work, a keepwarm process that wakes waits for the running one's slice (a few milliseconds at
most) instead of taking the CPU at once.
"""

from __future__ import annotations

import contextlib
import os


def apply(policy: str) -> None:
    """Put the calling thread (and what it starts from now on) under ``policy``."""
    if policy == "batch" and hasattr(os, "SCHED_BATCH"):
        with contextlib.suppress(OSError):  # not Linux, or a seccomp profile forbids it
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
