"""``EnvProcess``: the process behind one environment, and what lives and dies with it.

Why apart from ``LocalEnvironment``: the environment decides (states, phases, deadlines, the
results and log lines of invocations); this only starts, watches and stops one process at a
time with its channel, log pipe, cgroup and memory watch. A process replaced after a crash or a
timeout is a new ``start`` on the same object; the environment learns of an exit through one
callback, and only of the current process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keepwarm.config import FunctionConfig
from keepwarm.env import logpipe, packages
from keepwarm.env.cgroup import MAX_PIDS, EnvCgroup
from keepwarm.env.channel import Channel, PipeChannel, RuntimeApiChannel, RuntimeSink
from keepwarm.env.host import EnvHost
from keepwarm.env.launcher import Exited, Spawned
from keepwarm.env.memwatch import RssWatch
from keepwarm.env.spec import (
    Placement,
    entrypoint_problem,
    exec_argv,
    lambda_variables,
    launch_spec,
)
from keepwarm.observe.logs import LogStream
from keepwarm.runtime_api.peers import PeerGuard

ExitCallback = Callable[[int, bool], None]  # (wait status, killed for memory)


class InvalidEntrypoint(Exception):
    """The runtime's entrypoint cannot be started (no bootstrap, not executable...)."""


class EnvProcess:
    def __init__(
        self,
        env_id: str,
        config: FunctionConfig,
        host: EnvHost,
        placement: Placement,
        stream: LogStream,
        on_exit: ExitCallback,
    ) -> None:
        self.id = env_id
        self.config = config
        self.host = host
        self.placement = placement
        self.stream = stream
        self.channel: Channel | None = None
        self.rss_kb = 0  # the highest resident size the runtime or the watch reported
        self._on_exit_cb = on_exit
        self._loop = asyncio.get_running_loop()
        self._proc: Spawned | None = None
        self._cgroup: EnvCgroup | None = None
        self._oom_base = 0
        self._watch: RssWatch | None = None
        self._frozen = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None

    # -- start ---------------------------------------------------------------------------------
    async def start(self, sink: RuntimeSink, provisioned: bool, check_leaks: bool) -> None:
        """Start a process whose runtime reports to ``sink``; its Init runs from here on."""
        problem = entrypoint_problem(self.config, self.placement)
        if problem is not None:
            raise InvalidEntrypoint(problem)
        argv = exec_argv(self.config, self.placement)
        api: RuntimeApiChannel | None = None
        if argv is not None or self.host.server.python_transport != "pipe":
            guard = PeerGuard(
                self.placement.user[0] if self.placement.user else None, self.placement.own_user
            )
            api = await RuntimeApiChannel.open(sink, guard)  # listening before the process
        address = api.address if api is not None else "127.0.0.1:9001"
        env = lambda_variables(
            self.config, self.host.server, self.placement, self.stream.name, address, provisioned
        )
        spare = self._prepare_cgroup()
        try:
            proc = await self.host.launcher.spawn(self._spec(env, argv, api, check_leaks, spare))
        except BaseException:
            if api is not None:
                api.close()
            raise
        self._attach(proc, sink, api)

    def _prepare_cgroup(self) -> str | None:
        """The environment's cgroup, on its first start a spare's when one is ready; returns
        that spare's name (a re-init forks into the same cgroup)."""
        spare = None
        if self.host.cgroups is not None and self._cgroup is None:
            taken = self._take_spare()
            if taken is not None:
                spare, self._cgroup = taken
            else:
                self._cgroup = self.host.cgroups.create(self.id, self.config.memory_mb, MAX_PIDS)
        if self._cgroup is not None:
            self._oom_base = self._cgroup.oom_kills()
        return spare

    def _take_spare(self) -> tuple[str, EnvCgroup] | None:
        """A snapshot function's process is forked by its template, never by a spare."""
        if self.host.spares is None or self.config.snapshot:
            return None
        return self.host.spares.take(self.config.memory_mb)

    def _spec(
        self,
        env: dict[str, str],
        argv: list[str] | None,
        api: RuntimeApiChannel | None,
        check_leaks: bool,
        spare: str | None,
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"check_leaks": check_leaks}
        if self.config.runtime_family == "python" and not self.host.server.host_packages:
            options["importable"] = packages.importable(
                self.config.code_dir, self.config.layer_dirs
            )
        if api is not None:
            options["transport"] = "runtime-api"
        mode = "fork" if self.host.server.launch_mode == "fork" else "fresh"
        spec = launch_spec(
            self.config,
            self.placement,
            env,
            "exec" if argv is not None else mode,
            argv=argv,
            cgroup_procs=self._cgroup.procs_files if self._cgroup else None,
            options=options,
            sched=self.host.server.sched_policy,
        )
        if spare is not None:
            spec["spare"] = spare
        if "snapshot" in spec:  # the template's Init runs under the same limit as any Init
            spec["init_timeout_s"] = self.host.server.init_timeout_s
        return spec

    def _attach(self, proc: Spawned, sink: RuntimeSink, api: RuntimeApiChannel | None) -> None:
        self._proc = proc
        if api is None:
            self.channel = PipeChannel(proc.control, sink)
        else:
            proc.control.close()
            api.attach(proc.pid)
            self.channel = api
        self._loop.add_reader(proc.log_fd, logpipe.drain, self._loop, proc, self.stream)
        proc.exited.add_done_callback(lambda fut: self._exited(proc, fut))

    # -- while it runs -------------------------------------------------------------------------
    def drain_logs(self, proc: Spawned | None = None) -> None:
        """Move what the process wrote so far into the log stream (before END, say)."""
        proc = proc or self._proc
        if proc is not None:
            logpipe.drain(self._loop, proc, self.stream)

    def start_watch(self, on_exceeded: Callable[[], None]) -> None:
        """Poll the resident size against the memory limit, when no cgroup enforces it."""
        if self._cgroup is None and self._proc is not None:
            limit = self.config.memory_mb * 1024 * 1024
            self._watch = RssWatch(self._proc.pid, limit, on_exceeded)

    def stop_watch(self) -> None:
        if self._watch is not None:
            self.rss_kb = max(self.rss_kb, self._watch.peak // 1024)
            self._watch.stop()
            self._watch = None

    def note_peak(self, reported_kb: int) -> None:
        """The peak resident size of an Init that failed: what the runtime sent with its error
        (keepwarm's Python runtime does), else the live process's ``VmHWM`` read now, before
        it exits (it may already have)."""
        self.rss_kb = max(self.rss_kb, reported_kb)
        if reported_kb or self._proc is None:
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.rss_kb = max(self.rss_kb, int(line.split()[1]))

    def max_memory_mb(self) -> int:
        """Never above MemorySize, as on Lambda: a resident size also counts the pages shared
        with the fork server, which the environment's limit (its cgroup) does not.

        The cgroup's peak counts the runtime's children too. keepwarm's Python runtime reports
        its children's peak itself, so the file is read for it only when the process is gone
        (a timeout, a crash); a custom runtime's bootstrap may run its work in a child.
        """
        peak = self.rss_kb * 1024
        whole = self.rss_kb == 0 or self._proc is None or not isinstance(self.channel, PipeChannel)
        if self._cgroup is not None and whole:
            peak = max(peak, self._cgroup.peak_bytes())
        return min(max(1, math.ceil(peak / (1024 * 1024))), self.config.memory_mb)

    # -- the end -------------------------------------------------------------------------------
    def _exited(self, proc: Spawned, fut: asyncio.Future[Exited]) -> None:
        ended = fut.result() if not fut.cancelled() and fut.exception() is None else Exited(9)
        status = ended.status
        self.drain_logs(proc)
        if proc is not self._proc:  # already replaced or released: only its log is left
            logpipe.close(self._loop, proc, self.stream)
            return
        self.rss_kb = max(self.rss_kb, ended.maxrss_kb)  # an Init that failed reported none
        if isinstance(self.channel, PipeChannel):
            self.channel.drain()  # what the runtime said before it exited counts first
        self.kill()  # the runtime is gone: so is everything it left running (as on Lambda)
        logpipe.close(self._loop, proc, self.stream)
        self.release()
        self._on_exit_cb(status, bool(self._cgroup and self._cgroup.oom_kills() > self._oom_base))

    def freeze(self) -> None:
        """Stop every process of the environment (its process group) while it is idle, as
        Lambda freezes an environment between invocations: threads and children left running
        by a handler make no progress until the next invocation thaws them."""
        if self._proc is not None and not self._frozen:
            self._frozen = True
            _signal_group(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._frozen:
            self._frozen = False
            if self._proc is not None:
                _signal_group(self._proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the process group, and the cgroup (what left the group) where there is one."""
        if self._proc is not None:
            kill_group(self._proc.pid)
        if self._cgroup is not None:
            self._cgroup.kill_all()

    def release(self) -> None:
        """Forget the current process: later news of it (its exit) no longer concerns anyone."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self._proc, self._frozen = None, False

    def abandon(self) -> None:
        """Kill and forget a process that is no longer wanted (timed out, over its memory)."""
        self.kill()
        self.release()

    async def stop(self) -> None:
        """Kill the process, wait (briefly) for its exit, and remove what it leaves behind."""
        proc = self._proc
        self.kill()
        if proc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(proc.exited), timeout=5)
            logpipe.close(self._loop, proc, self.stream)
        self.release()
        if self._cgroup is not None:
            self._cgroup.remove()


def kill_group(pid: int) -> None:
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
