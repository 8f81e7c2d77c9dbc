"""``LocalEnvironment``: the one owner of one execution environment's lifecycle.

It alone spawns, watches and kills the environment's process (through the launcher), writes its
log stream and turns what the runtime says into invocation results. The pool only asks it to
``initialize``, ``invoke`` and ``shutdown``, and learns about state changes through a callback.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keepwarm import errors
from keepwarm.config import FunctionConfig
from keepwarm.env import outcome
from keepwarm.env.channel import PipeChannel
from keepwarm.env.host import EnvHost
from keepwarm.env.outcome import Answer
from keepwarm.env.process import EnvProcess, InvalidEntrypoint
from keepwarm.env.state import EnvState, check_transition
from keepwarm.invocation import Invocation, InvocationResult, LeakRecord, StartKind
from keepwarm.observe import logs

SCAN_GRACE_S = 60.0  # a leak scan running past the deadline of a call answered in time
# Lambda freezes an environment between invocations; keepwarm does once it has been idle this
# long, so back-to-back calls never pay for it (background threads get at most this much).
FREEZE_AFTER_S = 0.01
_ACTIVE = (EnvState.INITIALIZING, EnvState.BUSY)
_GONE = (EnvState.STOPPING, EnvState.DEAD)
StateCallback = Callable[["LocalEnvironment", EnvState, EnvState], None]


@dataclass
class _Run:
    invocation: Invocation
    kind: StartKind
    started: float
    init_ms: float | None
    deadline: float


class LocalEnvironment:
    def __init__(
        self,
        env_id: str,
        config: FunctionConfig,
        host: EnvHost,
        on_state: StateCallback,
        provisioned: bool = False,
    ) -> None:
        self.id = env_id
        self.config = config
        self.host = host
        self.provisioned = provisioned
        self.state = EnvState.NEW
        self._on_state = on_state
        self.created = self.last_used = host.clock.monotonic()
        self.invocations = 0
        self.orc_stats: dict[str, Any] = {}
        self._leaks: list[dict[str, Any]] = []
        self.stream = logs.LogStream(host.log_root, config.name, config.version)
        self.placement = host.place(env_id, config)
        self._loop = asyncio.get_running_loop()
        self.process = EnvProcess(
            env_id, config, host, self.placement, self.stream, self._process_exited
        )
        self._waiter: asyncio.Future[Answer] | None = None
        self._pending: Answer | None = None
        self._last_ms = 0.0  # the last invocation's duration (spin only after quick ones)
        self._scan_ms = 0.0  # the runtime's leak scan before its last "next": not the function's
        self._freezer: asyncio.TimerHandle | None = None

    # -- state ---------------------------------------------------------------------------------
    def _to(self, target: EnvState) -> None:
        if self.state in _GONE and target is not EnvState.DEAD:
            raise self._stopped()  # shut down under a running invocation: it ends here
        check_transition(self.state, target)
        old, self.state = self.state, target
        if old is EnvState.IDLE:
            self._thaw()
        elif target is EnvState.IDLE:
            self._freezer = self._loop.call_later(FREEZE_AFTER_S, self.process.freeze)
        self.host.note_active((target in _ACTIVE) - (old in _ACTIVE))
        self._on_state(self, old, target)

    def _thaw(self) -> None:
        if self._freezer is not None:
            self._freezer.cancel()
            self._freezer = None
        self.process.thaw()

    def _stopped(self) -> errors.ServiceFailure:
        return errors.stopped_under_call(self.id)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def tmp_path(self) -> str:
        return str(self.placement.tmp_dir)

    # -- process -------------------------------------------------------------------------------
    async def _spawn(self) -> None:
        await self.process.start(self, self.provisioned, self._checks_leaks)
        if self.state in _GONE:  # shut down while the process was starting
            self.process.abandon()
            raise self._stopped()

    def _process_exited(self, status: int, oom: bool) -> None:
        answer = Answer("exit", status=status, oom=oom, prior=self._pending)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(answer)
        elif self.state is EnvState.IDLE:
            self._to(EnvState.RESET)

    # -- what the runtime says (RuntimeSink) ---------------------------------------------------
    def runtime_next(self, report: dict[str, Any]) -> None:
        self.process.rss_kb = int(report.get("rss_kb", self.process.rss_kb))
        self._scan_ms = float(report.get("scan_ms") or 0.0)
        if "orc" in report:
            self.orc_stats = report["orc"]
        leaks = report.get("leaks")
        self._leaks = list(leaks) if leaks else []
        answer, self._pending = self._pending or Answer("ready"), None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(answer)

    def runtime_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self._pending = Answer("response", body, content_type)

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._pending = Answer("error", body)

    def runtime_init_error(self, error_type: str | None, body: bytes, rss_kb: int = 0) -> None:
        """Init failed: the phase ends now, whether or not the runtime goes on to exit (one that
        posts and then hangs would otherwise hold the caller until Init's timeout). The
        process is done for, as on Lambda; what it logged before posting is kept."""
        self._pending = Answer("init_error", body, declared=error_type)
        self.process.note_peak(rss_kb)
        if self._waiter is not None and not self._waiter.done():
            self.process.drain_logs()
            self.process.abandon()
            self._waiter.set_result(self._pending)

    # -- phases --------------------------------------------------------------------------------
    async def _await_answer(self, budget: float, spin: bool = False) -> Answer:
        waiter: asyncio.Future[Answer] = self._loop.create_future()
        self._waiter = waiter
        timer = self._loop.call_later(max(budget, 0.0), self._on_deadline, waiter)
        self.process.start_watch(self._out_of_memory)
        try:
            if spin and self.host.server.spin_us:
                await self._spin(waiter, budget)
            if not waiter.done():
                self.host.held_lines.flush_soon(self.stream)  # a longer wait: START goes out
            return await waiter
        finally:
            timer.cancel()
            self.process.stop_watch()
            self._waiter = None

    async def _spin(self, waiter: asyncio.Future[Answer], budget: float) -> None:
        """Busy-wait briefly for a quick answer, only if nothing else could use the loop.

        Only while traffic is sequential (``EnvHost.sequential``), when the last invocation
        answered within the budget, and after one turn of the loop: invocations already queued
        start first (and then count as active), so spinning never delays a concurrent
        caller's choice of environment.
        """
        channel, spin_s = self.process.channel, self.host.server.spin_us / 1e6
        if self._last_ms / 1000 > spin_s or not isinstance(channel, PipeChannel):
            return  # the last answer took longer than the budget: spinning would be wasted
        if self.host.sequential():
            await asyncio.sleep(0)
            if self.host.sequential() and not waiter.done():
                channel.spin(min(spin_s, budget), waiter.done)

    def _on_deadline(self, waiter: asyncio.Future[Answer]) -> None:
        if waiter.done():
            return
        if self._scanning():  # answered in time; keepwarm's own leak scan is running
            self._loop.call_later(SCAN_GRACE_S, self._time_out, waiter)
            return
        self._time_out(waiter)

    @property
    def _checks_leaks(self) -> bool:
        return self.config.check_leaks or self.host.server.check_leaks

    def _scanning(self) -> bool:
        """Answered, and the Python runtime (the one that scans) is checking for leaks."""
        answered = self._pending is not None and self._pending.kind in ("response", "error")
        return answered and self._checks_leaks and self.config.runtime_family == "python"

    def _take_scan_ms(self) -> float:
        scan, self._scan_ms = self._scan_ms, 0.0
        return scan

    def _time_out(self, waiter: asyncio.Future[Answer]) -> None:
        """A runtime that posted its answer but did not ask for the next event in time (a
        custom runtime's post-response work) still answers its caller, as on Lambda, where the
        caller has it at ``/response``; the invocation is logged as timed out all the same."""
        if waiter.done():
            return
        answered, self._pending = self._pending, None
        if answered is not None and answered.kind not in ("response", "error"):
            answered = None
        self.process.note_peak(0)  # while it lives: its own peak, with pages shared at fork
        self.process.kill()
        self.process.drain_logs()
        self.process.release()
        waiter.set_result(Answer("timeout", prior=answered))

    async def _init(self, budget: float) -> tuple[Answer, float]:
        """Start the process and run Init; returns how Init ended and how long it took."""
        t0 = time.perf_counter()
        self._pending = None
        try:
            await self._spawn()
        except InvalidEntrypoint as exc:
            answer = Answer("exit", status=127 << 8, entrypoint=str(exc))
            return answer, (time.perf_counter() - t0) * 1000
        except OSError as exc:
            self.stream.line(f"keepwarm: could not start the environment: {exc}\n")
            return Answer("exit", status=1 << 8), (time.perf_counter() - t0) * 1000
        answer = await self._await_answer(budget - (time.perf_counter() - t0))
        return answer, (time.perf_counter() - t0) * 1000 - self._take_scan_ms()

    async def initialize(self) -> bool:
        """Init ahead of any invocation (provisioned concurrency); True when it succeeded."""
        self._to(EnvState.INITIALIZING)
        self.stream.line(logs.init_start(self.config.runtime, self.host.server.region))
        answer, init_ms = await self._init(self.host.server.init_timeout_s)
        if answer.kind == "ready":
            self._to(EnvState.IDLE)
            return True
        self._log_init_failure(answer, init_ms, "init")
        self._to(EnvState.RESET)
        return False

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        """Serve one invocation; the state moves synchronously before the first await."""
        if self.state is EnvState.IDLE:
            self._to(EnvState.BUSY)
            kind = StartKind.PROVISIONED if self.provisioned else StartKind.WARM
            return await self._serve(self._new_run(invocation, kind, None))
        if self.state is EnvState.NEW:
            return await self._cold(invocation)
        if self.state is EnvState.RESET:
            self._to(EnvState.INITIALIZING)
            self.stream.begin_capture()
            return await self._suppressed_init(invocation)
        raise errors.not_available(self.id, self.state.value)

    def _new_run(self, inv: Invocation, kind: StartKind, init_ms: float | None) -> _Run:
        now = time.perf_counter()
        return _Run(inv, kind, now, init_ms, now + self.config.timeout_s)

    async def _cold(self, invocation: Invocation) -> InvocationResult:
        self._to(EnvState.INITIALIZING)
        self.stream.begin_capture()
        self.stream.line(logs.init_start(self.config.runtime, self.host.server.region))
        answer, init_ms = await self._init(self.host.server.init_timeout_s)
        if answer.kind == "ready":
            self._to(EnvState.BUSY)
            return await self._serve(self._new_run(invocation, StartKind.COLD, init_ms))
        self._log_init_failure(answer, init_ms, "init")
        return await self._suppressed_init(invocation)

    async def _suppressed_init(self, invocation: Invocation) -> InvocationResult:
        """Init inside the invocation (after a reset or a failed Init): counted in its timeout."""
        run = self._new_run(invocation, StartKind.COLD, None)
        self.stream.line(logs.start(invocation.request_id, self.config.version))
        answer, init_ms = await self._init(self.config.timeout_s)
        if answer.kind == "ready":
            self.stream.line(logs.init_report(init_ms, "invoke", None))
            self._to(EnvState.BUSY)
            return await self._dispatch(run)
        self._log_init_failure(answer, init_ms, "invoke")
        return self._finish(run, answer)

    def _log_init_failure(self, answer: Answer, init_ms: float, phase: str) -> None:
        if answer.kind == "exit":
            self.process.kill()
        status = "timeout" if answer.kind == "timeout" else "error"
        self.stream.line(logs.init_report(init_ms, phase, status, outcome.error_type(answer)))

    async def _serve(self, run: _Run) -> InvocationResult:
        if run.kind is not StartKind.COLD:
            self.stream.begin_capture()
        self.stream.line(logs.start(run.invocation.request_id, self.config.version))
        return await self._dispatch(run)

    async def _dispatch(self, run: _Run) -> InvocationResult:
        channel = self.process.channel
        assert channel is not None
        wall_deadline = self.host.clock.time() + (run.deadline - time.perf_counter())
        spin_us = self.host.server.spin_us if self.host.sequential() else 0
        channel.deliver(run.invocation, int(wall_deadline * 1000), spin_us)
        answer = await self._await_answer(run.deadline - time.perf_counter(), spin=True)
        return self._finish(run, answer)

    # -- results -------------------------------------------------------------------------------
    def _platform_lines(self, run: _Run, answer: Answer) -> tuple[str | None, str | None]:
        rid = run.invocation.request_id
        status, error_type = outcome.report_status(answer)
        if answer.kind == "timeout":
            self.stream.line(logs.timed_out(rid, self.config.timeout_s, self.host.clock.time()))
        elif answer.kind == "exit" and not answer.after_init_error:
            self.stream.line(logs.runtime_exited(rid, answer.exit_text, error_type or ""))
        return status, error_type

    def _finish(self, run: _Run, answer: Answer) -> InvocationResult:
        if self.state in _GONE:
            raise self._stopped()
        self.process.drain_logs()
        duration = max((time.perf_counter() - run.started) * 1000 - self._take_scan_ms(), 0.0)
        rid = run.invocation.request_id
        payload, function_error, content_type = outcome.payload(answer, rid, self.config.timeout_s)
        status, error_type = self._platform_lines(run, answer)
        reusable = self._settle_process(answer)
        max_mb = self.process.max_memory_mb()
        leaks = self._leak_records(rid, answer)
        billed = math.ceil(duration + (run.init_ms or 0.0))  # Init is billed since 2025-08-01
        memory = self.config.memory_mb
        self.stream.line(
            logs.end(rid)
            + logs.report(rid, duration, billed, memory, max_mb, run.init_ms, status, error_type)
        )
        self.invocations += 1
        self._last_ms = duration
        self.last_used = self.host.clock.monotonic()
        result = InvocationResult(
            request_id=rid,
            function_name=self.config.name,
            payload=payload,
            function_error=function_error,
            start_kind=run.kind,
            env_id=self.id,
            duration_ms=duration,
            billed_ms=billed,
            max_memory_mb=max_mb,
            memory_mb=memory,
            init_duration_ms=run.init_ms,
            logs=self.stream.end_capture(),
            executed_version=self.config.version,
            content_type=content_type,
            leaks=leaks,
        )
        self._to(EnvState.IDLE if reusable else EnvState.RESET)
        return result

    def _settle_process(self, answer: Answer) -> bool:
        """Whether the environment is reused: after a response or a handled error it is,
        except that Lambda's Python runtime exits when its response over 6 MB is refused (the
        next call starts cold), which is done here: its log line, and the process stopped.
        A custom runtime decides for itself."""
        if answer.kind not in ("response", "error"):
            return False
        refused = answer.kind == "response" and len(answer.body) > outcome.MAX_RESPONSE
        if refused and self.config.runtime_family == "python":
            self.stream.line(logs.response_refused(self.host.clock.time(), outcome.MAX_RESPONSE))
            self.process.abandon()
            return False
        return True

    def _leak_records(self, rid: str, answer: Answer) -> tuple[LeakRecord, ...]:
        """The runtime's leak findings for this invocation, each also written as a LEAK line."""
        found, self._leaks = self._leaks, []
        if not found or answer.kind not in ("response", "error"):
            return ()
        records = tuple(
            LeakRecord(rid, str(f.get("location", "")), str(f.get("field", "")))
            for f in found
            if f.get("requestId", rid) == rid
        )
        for record in records:
            self.stream.line(logs.leak(rid, record.location, record.event_field))
        return records

    def _out_of_memory(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self.process.abandon()
            self._waiter.set_result(Answer("exit", status=signal.SIGKILL, oom=True))

    # -- shutdown ------------------------------------------------------------------------------
    async def shutdown(self) -> None:
        if self.state in _GONE:
            return
        self._to(EnvState.STOPPING)
        await self.process.stop()
        self.stream.close()
        shutil.rmtree(self.placement.tmp_dir.parent, ignore_errors=True)
        self._to(EnvState.DEAD)
