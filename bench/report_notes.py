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
  once per quick invocation, and flushed as soon as an invocation outlasts its spin (so a
  live `keepwarm logs --follow` still sees START while a slow invocation runs; tested).
- **Responses in one write** (`lambda_api/_http.py`): uvicorn writes a response's head and body
  with two `send`s; the client could wake for the head alone and, with the environment
  spinning on the other vCPU, preempt the server before it wrote the body. The head is now
  held until the body (interim `100 Continue` and body-less responses still go out at once;
  tested). Warm HTTP invoke 238 → 217 µs in four alternating runs; the echo floor is plain
  uvicorn and showed no change with the same protocol class (104-124 µs either way).
- **Frame meta decoding**: `json.loads` on each frame's meta replaced by the C scanner it ends
  in (1.6 µs → 0.4 µs a frame, three frames per invocation).
- **Profiled and left alone**: uuid4 (~2 µs), the frozen result dataclasses (~1 µs each), the
  context object reading Lambda's variables from `os.environ` on every invocation (as
  awslambdaric does; ~2 µs), simplejson for events and results (AWS's own choice).
"""

MISSING = """\
- Warm invoke through the Python API is within 3x the cross-CPU pipe floor (the issue's own
  0.05 ms figure) but not within 3x the same-CPU one (two processes sharing one CPU, ~9 µs).
  What is left is Python: placement, state changes, the log lines, the REPORT, metrics, the
  event loop's own turn and, in the environment, the runtime's loop (context object, JSON
  both ways, rusage).
- Throughput at concurrency 4 is about a third of the echo's. Measured with /proc CPU times
  during that test: the echo server spends ~37 µs of CPU per request (17 µs user), `keepwarm
  serve` ~155 µs (~100 µs user) plus ~69 µs in the environment; the four client processes
  take roughly 90 µs a request in both cases (estimated by difference, not measured), on two
  vCPUs. `perf` puts 40 % of the server's samples in the interpreter and 22 % in the kernel's
  context-switch paths. Reaching half the echo's rate would need the server's CPU per request
  roughly halved; spinning is no help here (it is off under concurrency on purpose; the "spin
  off" row shows the same rate).
- Cold-start variance comes mostly from joining the environment's memory cgroup (cgroup v1:
  a write to `cgroup.procs` waits for an RCU grace period, 0.3 ms on an idle machine, 5-15 ms
  under load, measured with strace). Next step: forking spare children into prepared cgroups
  ahead of demand (or `CLONE_INTO_CGROUP` where cgroup v2 is available).
- Snapshot templates run Init with the server's privileges, so a function only gets one when
  functions keep the server's user (`ServerConfig(run_as="root")`, or not root at all);
  otherwise it forks as usual with a warning. A template is made on the first cold start, not
  at deploy.
"""
