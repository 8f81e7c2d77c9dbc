"""The prose of docs/benchmarks.md that no measurement generates: what was removed from the hot
path (and what each removal measured), and what is still missing. Kept apart from report.py so
the code that turns results into tables stays short.
"""

REMOVED = """\
- **Cross-thread hop** (`Runtime._call`): first `run_coroutine_threadsafe(...).result()` was
  replaced by one `call_soon_threadsafe` and a plain lock; now the hop is gone altogether: a
  blocking call runs the runtime's loop on its own thread (`keepwarm/loop_driver.py`; a
  background thread drives only between calls). About 98 µs → 76 µs per warm call when
  measured back to back on this machine.
- **Placement** (`Router._snapshot`): `sum(self.reserved.values())` on every invocation, O(number
  of functions), replaced by a counter kept by `set_reserved`; placement is O(1) again (the
  scale table shows 1,000 functions cost nothing).
- **Cold path** (`zygote`): libc (ctypes) loaded before any fork; `gc.freeze()` after the
  preload so a child's collections neither walk nor copy-on-write the template's objects.
- **Snapshot mode** (opt-in): a per-function template forked after Init removes the handler's
  module import from every later cold start (see docs/snapshot.md).
- **1 MiB reads** (`PipeChannel`, `PipeTransport`): `sock.recv(1 << 20)` makes CPython
  allocate (and then shrink) a 1 MiB buffer on every call: 14.8 µs per read against 1.2 µs for
  `recv(65536)`, measured on a socketpair, paid once on each side of every invocation. Found
  with cProfile (`recv` at 23 µs a call). Now 64 KiB.
- **Starlette on the Invoke path** (`lambda_api/fast_invoke.py`): Invoke is served from the ASGI
  scope; every other operation still goes through Starlette. Parity test: both paths give the
  same status, headers and body for 14 requests (successes and each kind of error). In-process
  ASGI time of a warm Invoke went from ~163 µs to ~102 µs together with the read fix.
- **Wake-ups** (`ServerConfig.spin_us`, default 400 µs; `KEEPWARM_SPIN_US=0` turns it off): on
  this VM a process sleeping in `epoll_wait`/`recv` takes 30-50 µs to wake, more than the whole
  Python work of a no-op invocation. While traffic is sequential (no two invocations overlapped
  in the last 32), the server polls the environment's socket for up to `spin_us` after
  delivering an event, and the environment polls for its next event for up to `spin_us` after
  answering. Cost: at most `spin_us` of CPU per invocation on each side, and only then; under
  concurrent traffic neither spins (the rows "spin off" show the difference, measured in the
  same run). Results, environment choice, timeouts and concurrency are the same either way
  (tests/env/test_spin.py runs them both ways).
- **Log writes**: START, END and REPORT were three `write` calls; they are now held and written
  once per quick invocation; an invocation that outlasts its spin has its START written within
  10 ms (so `tail -f` on the stream file still sees START while a slow invocation runs;
  tested).
- **Responses in one write** (`lambda_api/_http.py`): uvicorn writes a response's head and body
  with two `send`s; the client could wake for the head alone and, with the environment
  spinning on the other vCPU, preempt the server before it wrote the body. The head is now
  held until the body (interim `100 Continue` and body-less responses still go out at once;
  tested). Warm HTTP invoke 238 → 217 µs in four alternating runs; the echo floor is plain
  uvicorn and showed no change with the same protocol class (104-124 µs either way).
- **Frame meta decoding**: `json.loads` on each frame's meta replaced by the C scanner it ends
  in (1.6 µs → 0.4 µs a frame, three frames per invocation).
- **Answer and `next` in one frame** (`PipeTransport`, `PipeChannel`): the environment's
  answer carries its `next` report in the same frame's meta: one header, one meta encoding and
  one decoding less per invocation (tests/env/test_channel.py reads both shapes).
- **The runtime's environment reads** (`runtimes/python/environ.py`): the context and the
  result encoder read six of Lambda's variables per invocation, live, as awslambdaric does;
  through `os.environ` that is a key encoding, a `KeyError` for a missing one and a decoding
  each (0.2-0.5 µs); read from its underlying mapping, a third of that, same answers (tested).
  With a cheaper flush and trace-variable reset: environment CPU per warm invocation
  ~36 → ~27 µs (one runtime driven over a socket pair, `/proc/<pid>/schedstat`).
- **Request ids**: 16 random bytes formatted as a version-4 UUID instead of `str(uuid4())`
  (2.0 → 0.7 µs). **Scheduling snapshots** are named tuples, not frozen dataclasses
  (0.85 → 0.3 µs each).
- **Invocation metrics** (`observe/tally.py`): prometheus_client's Counter and Histogram take
  a lock per value, about 3 µs an invocation inside the server (knock-out measurement, below);
  now plain numbers, exported at scrape time byte for byte as before (tested side by side).
- **Payload check** (`Invoker`): every payload is parsed to check it is JSON; orjson first,
  `json` only for what orjson refuses (so acceptance and error texts are unchanged; differential
  and property tests). ~3 µs an invocation for `{}`, much more for big payloads.
- **START of slow invocations**: written by one 10 ms timer for all streams that need it
  (`observe/logs.HeldLines`) rather than one write each when an answer is not there at once.
- Server CPU per warm invocation, in-process ASGI, spin off, pinned to one CPU, alternating
  processes: 66-73 µs at f3a4b5c → 50-56 µs (medians of 2,000-call batches; the machine's
  speed drifted during the session, so only alternated pairs compare). Knock-outs (the same
  measurement with one part replaced by nothing) that guided the work: log stream 6-9 µs (the
  file `write` ~5 of it), state changes 5, metrics 3, payload check 3, the deadline timer 3,
  the log-pipe drain 3.
- **Scheduling policy** (`env/sched.py`): the server and its environments run under
  `SCHED_BATCH`, so they stop preempting each other at every wake-up: +4-16 % requests/s at
  concurrency 4 over three interleaved series, sequential latency unchanged. The echo floor
  under `SCHED_BATCH` gains nothing measurable (one process: 14.6-15.1k vs 14.9-15.4k req/s).
- **Frame metas through orjson** (`runtimes/python/wire.py`, both ends) and `Event` as a named
  tuple: environment CPU per warm invocation 29-31 → 20-24 µs over two alternated pairs (one
  runtime driven over a socket pair, `/proc/<pid>/schedstat`); server CPU per warm invocation
  (in-process, pinned) 59-64 → 56-59 µs over three alternated pairs. Throughput at concurrency
  4 over six interleaved rounds against 88570dd: 5,966 → 6,275 req/s (+5 %); latency unchanged.
- **One header timer per HTTP connection** (`lambda_api/_http.py`), re-armed only when it
  fires, instead of `call_later` and `cancel` per request (1.8 µs on uvloop). The same change
  fixed a bug: the old per-request timer ran while a function did, so a synchronous Invoke over
  30 s lost its connection.
- **Profiled and left alone**: the log stream's one `write` per invocation (a finished
  invocation's lines are on disk when it returns, which readers of the log stream files rely
  on: tests, `tail -f`); the
  log pipe's drain before END (a handler's output written straight to fd 1 must precede END);
  the frozen `Invocation` and `InvocationResult` (public API); simplejson for events and
  results (AWS's own choice); the per-invocation deadline timer (a shared timer wheel would save
  ~1 µs).
"""

MISSING = """\
- Warm invoke through the Python API is within 3x the cross-CPU pipe floor (the issue's own
  0.05 ms figure) but not within 3x the same-CPU one (two processes sharing one CPU, ~9 µs).
  What is left is Python: placement, state changes, the log lines, the REPORT, the event loop's
  own turn and, in the environment, the runtime's loop (context object, simplejson both ways,
  rusage).
  `AsyncRuntime.invoke` runs each invocation in a task of its own, shielded, so that a caller
  that stops waiting (`asyncio.wait_for`) cannot strand an environment mid-invocation: ~10 µs
  a call (two more turns of the loop; 43-44 → 55 µs over three runs). The blocking `Runtime`
  and `keepwarm serve` do not pay it.
- Every invocation now carries an X-Ray trace header (`_X_AMZN_TRACE_ID`, as on Lambda): made in
  the server, framed to the environment and set in its environment. Five interleaved rounds
  with and without it: 6,247 vs 6,373 req/s at concurrency 4 and 198 vs 188 µs sequential
  latency; the micro-measured parts (making it ~0.9 µs, setting it ~0.4 µs, a bigger frame)
  explain less than that, so part of the gap may be noise.
- Throughput at concurrency 4 is under half the echo's: 40-46 % over the last six interleaved
  runs (39-48 % over their rounds; 40 % and 41 % in the two runs of the latest round of work, and
  40-42 % in a run of the code before it, so that round changed nothing measurable here). The
  forwarder row says where the rest goes: real keepwarm runtimes behind an ASGI app that does
  nothing but pass frames (no placement, limits, timeouts, logs, metrics or validation;
  `bench/forwarder.py`) reach 49-55 % (47-60 % over rounds), so the two-process design itself
  sits at about the target on this machine, and keepwarm's own per-invocation work is what
  stands between it and that floor. Per request at concurrency 4 (`/proc/<pid>/schedstat`, CPU
  time; latest two interleaved pairs): the echo server 33-35 µs, the forwarder 62-64 µs, the
  keepwarm server 114-119 µs; an environment 44-48 µs under keepwarm (`SCHED_BATCH`) against
  47-51 µs under the forwarder; a client 77-80 µs against the echo but 99-109 µs against the
  two-process servers (more processes share the two CPUs' caches), and the machine 12-14 %
  idle under keepwarm against 7-9 % under the echo (the single server thread is the serial
  point). A perf profile of the server at concurrency 4: 59 % of its CPU in the interpreter,
  30 % in the kernel (socket writes to the client and to the environments), 3.5 % in uvloop. Closing
  the gap means doing in ~20 µs of server CPU what takes ~55 µs now (measured in-process:
  placement, two state changes, START, END and REPORT with one log-file write, the log-pipe drain,
  the deadline timer, metrics, validation, result objects), for every invocation, without giving
  up a guarantee those parts keep (lines on disk when an invocation returns, timeouts, limits).
  Not done. The largest single cost left on the HTTP path is uvicorn's own request cycle (scope,
  task, ASGI messages): a raw httptools echo on uvloop answered 22.9k req/s at concurrency 4
  against 13.7k for the bench's echo through uvicorn, median of four interleaved 2 s rounds.
  Serving Invoke below that cycle is not done (see docs/architecture.md, "HTTP bounds").
- Three attempts on that throughput gap, none kept (stop 16; each against the unchanged code
  in the same interleaved run, six 2 s rounds at concurrency 4):
  - *Where the CPU goes.* `perf record -a` over 2 s under load: the keepwarm server had 46 %
    of all samples (0.92 of one CPU: the serial point), the four clients 35 %, the four
    environments 13 %, idle 5 %. Per request (`/proc/<pid>/stat`): server 114-130 µs, of it
    88 µs user time; forwarder 61-72 µs (35-37 user); echo 34-37 µs (18 user). The gap to the
    forwarder is user time.
  - *Invoke below uvicorn's ASGI messages*: an `InvokeLane` run as the request cycle's app
    that took a fully arrived body from the cycle, skipped `receive`, the two middleware layers
    and `send`'s per-header checks, and wrote the answer in one write: server 125 vs 126 µs per
    request, 40.2 % vs 41.2 % of the echo. Not kept.
  - *Compiling the hot path with mypyc* (environment, channel, pool, router, scheduler,
    invoker, logs, tally, invocation; 17 s to build): server 125 vs 124 µs per request,
    42.6 % vs 40.9 %. Not kept: native classes would also forbid the monkeypatching and
    subclassing some tests and users rely on, for no measured gain. So the server's cost is
    not in the interpreted logic of those modules but spread thinly over the event loop's
    turns, uvicorn, C calls and system calls.
  - Kept: the browser guard's address parse per request is cached (2.15 → 0.2 µs, `timeit`).
  - *Where the server's time goes, by layer* (stop 17: the server with a layer replaced by a
    canned answer, monkeypatched at start, four interleaved 2 s rounds per variant, server CPU
    per request): the HTTP layer alone (uvicorn, the browser guard, the Invoke fast path,
    answering without calling the backend) 37 µs, the echo's figure; down to the invoker
    (request parsing, payload check, ids, the outcome; no placement or environment) 53 µs;
    everything 121 µs. So placement, the environment's state machine, the deadline timer, the
    log lines, metrics and the two socket hops cost 68 µs where the forwarder's hop costs 30.
    Replacing the log writes, metrics and the memory watch with no-ops together saved 9 µs
    (113 vs 122 µs), and disabling the cyclic GC nothing (126 vs 120). No single part is big;
    the rest is the chain of coroutines, futures and timers each invocation passes through.
  - Found on the way: an environment blocked in `recv` on its socket pair is woken for nothing
    when the server reads the environment's own answer from the same pair (the kernel's
    write-space wake-up on the environment's socket): 2.00 voluntary context switches per
    invocation instead of 1 (`/proc/<pid>/status`, 3,050 sequential calls, spin off; `perf`
    `sched:sched_wakeup` shows both wakers). In the forwarder, one socket pair per direction
    took sequential latency from 217 to 163 µs (no spin there) and left throughput at
    concurrency 4 unchanged (8,063 vs 8,229 req/s). keepwarm's environments spin after an
    answer while traffic is sequential, so they are not asleep then; not changed.
- Cold-start variance came mostly from joining the environment's memory cgroup (cgroup v1:
  a write to `cgroup.procs` waits for an RCU grace period). A loop that only creates a memory
  and a pids cgroup, forks and joins them measured 0.44 ms at the median, 10.2 ms at p90 and
  16.5 ms at most. Two `make bench` runs early in the latest stop, before the change below, gave
  a default (sandbox user) p50 of 12.0 and 15.4 ms, against 8.1 ms the stop before, while
  `run_as=root` stayed at 7.7-8.2 ms. Four alternated 40-call series on the previous stop's
  code (bdd442b) and on the code of that moment gave 11.9-15.2 and 8.5-16.8 ms: the machine
  had changed, not the code. Until that stop this VM carried 47,000 cgroups leaked by killed
  test servers (9.6 GB of kernel memory, now swept, see architecture.md, "Memory"); the 8.1 ms
  was measured in that state.
- Since then a cold start takes a *spare*: a process the fork server forked and moved into a
  cgroup of its own ahead of demand (`keepwarm/env/spares.py`, two per server). Three
  alternated 40-call series (default mode): p50 6.2-6.7 ms and p90 7.3-7.9 ms with spares,
  7.6 ms and 21-25 ms without. With one spare, a cold start every ~30 ms found it ready only
  every other time (p50 8.8-11 ms); two keep up.
- Snapshot templates run Init with the server's privileges, so a function only gets one when
  functions keep the server's user (`ServerConfig(run_as="root")`, or not root at all);
  otherwise it forks as usual with a warning. A template is made on the first cold start, not
  at deploy.
"""
