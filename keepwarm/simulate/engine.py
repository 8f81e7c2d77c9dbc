"""The simulation: traffic through the pool's own decisions, in simulated time.

Every decision is the one ``FunctionPool`` and ``Router`` make, by the same functions of
``keepwarm.pool.scheduler``: ``place`` (throttle, the most recently used idle environment,
provisioned first, an environment waiting for re-init, else a cold start), ``should_retire``
(max invocations per environment, reuse chaos), ``choose_reclaim`` at the reaper's ticks,
``provisioned_missing`` before traffic and ``reinit_now`` after a timeout; a provisioned
environment that stops is replaced at once, as the pool replaces it. What is simulated is only
what the runtime measures in real time: how long Init and the handler take (and so the
timeout).

Why events and not a clock ticking: a day at 10 requests/s is ~864k arrivals and 86,400 reaper
ticks; the loop visits each arrival and completion once, and only the ticks at which some idle
environment can have expired (``scheduler.expires_at``), so it runs in seconds.

At equal times, completions come first, then provisioned Inits ending, then the reaper's tick,
then arrivals: an environment that finishes at t serves an arrival at t.
"""

from __future__ import annotations

import heapq
import itertools
import math
from random import Random

import keepwarm.pool.scheduler as scheduler
from keepwarm.invocation import StartKind
from keepwarm.pool.scheduler import Action, EnvView, Snapshot
from keepwarm.simulate.model import FunctionModel
from keepwarm.simulate.result import Prediction, Tally
from keepwarm.simulate.traffic import Traffic

INF = math.inf
IDLE, BUSY, RESET, INIT, DEAD = "idle", "busy", "reset", "init", "dead"
RESTING = (IDLE, RESET)  # what the pool's reclaim views count as idle


class SimEnv:
    """One simulated environment: the facts the decisions read, and its cache fill times."""

    __slots__ = (
        "created",
        "fills",
        "id",
        "invocations",
        "last_used",
        "pending",
        "provisioned",
        "state",
    )

    def __init__(self, env_id: str, provisioned: bool, now: float) -> None:
        self.id = env_id
        self.provisioned = provisioned
        self.created = self.last_used = now
        self.invocations = 0
        self.state = INIT
        self.pending: float | None = None  # the time of its live entry in the expiry heap
        self.fills: list[float] | None = None  # module-level cache entries (None: empty)

    def view(self) -> EnvView:
        return EnvView(
            self.id,
            self.state in RESTING,
            self.provisioned,
            self.created,
            self.last_used,
            self.invocations,
        )


class Engine:
    def __init__(
        self, model: FunctionModel, ttls: tuple[float | None, ...], seed: int, record: bool
    ) -> None:
        self.model = model
        self.policy = model.policy
        self.every = model.reap_every_s
        self.tally = Tally(ttls, record)
        self.envs: dict[str, SimEnv] = {}
        self.idle: dict[str, SimEnv] = {}  # insertion order = order they became idle (MRU last)
        self.idle_provisioned: dict[str, SimEnv] = {}
        self.reset: dict[str, SimEnv] = {}
        self.done: list[tuple[float, int, SimEnv, float, bool]] = []  # completions
        self.ready: list[tuple[float, int, SimEnv]] = []  # provisioned Inits ending
        self.expiry: list[tuple[float, int, SimEnv]] = []  # idle environments' expiry times
        self.seq = itertools.count()
        self.inflight = self.provisioned_alive = 0
        self.now = 0.0
        self.duration = model.duration.sampler(Random(f"{seed}:duration"))
        self.init = model.init.sampler(Random(f"{seed}:init"))
        self.coin = Random(f"{seed}:reuse").random

    def run(self, traffic: Traffic) -> Prediction:
        self._provision(0.0, initial=True)
        durations = traffic.durations
        for i, t in enumerate(traffic.starts):
            self._until(t)
            d = durations[i] if durations is not None else None
            self._arrive(t, self.duration() if d is None else d)
        end = max((c[0] for c in self.done), default=self.now)
        end = max(end, traffic.span_s or 0.0)
        self._until(end)
        for env in list(self.envs.values()):
            self.tally.env_ended(env.invocations, end - env.created)
        return self.tally.prediction(end)

    # -- time ----------------------------------------------------------------------------------
    def _until(self, t: float) -> None:
        """Everything that happens up to and including ``t``, in order."""
        done, ready = self.done, self.ready
        while True:
            c = done[0][0] if done else INF
            r = ready[0][0] if ready else INF
            k = self._next_tick()
            first = min(c, r, k)
            if first > t:
                return
            if c == first:
                when, _, env, busy_s, timed_out = heapq.heappop(done)
                self._complete(when, env, busy_s, timed_out)
            elif r == first:
                self._ready(heapq.heappop(ready)[2], r)
            else:
                self._tick(k)

    def _next_tick(self) -> float:
        """The first reaper tick that can find an expired environment (stale entries dropped)."""
        heap = self.expiry
        while heap:
            when, _, env = heap[0]
            if env.pending == when and env.state in RESTING:
                return scheduler.next_tick(when, self.every)
            heapq.heappop(heap)
            if env.pending == when:
                env.pending = None
        return INF

    def _watch(self, env: SimEnv, not_before: float) -> None:
        """Note when ``env``, now resting, can first be found expired."""
        when = max(scheduler.expires_at(env.view(), self.policy), not_before)
        if env.pending != when:
            env.pending = when
            heapq.heappush(self.expiry, (when, next(self.seq), env))

    def _tick(self, tick: float) -> None:
        """The reaper at ``tick``: ``choose_reclaim`` over the environments that may have
        expired (the others cannot be chosen)."""
        self.now = tick
        found: dict[str, SimEnv] = {}
        while self.expiry and self.expiry[0][0] <= tick:
            when, _, env = heapq.heappop(self.expiry)
            if env.pending == when:
                env.pending = None
                if env.state in RESTING:
                    found[env.id] = env
        victims = scheduler.choose_reclaim([e.view() for e in found.values()], tick, self.policy)
        for env_id in victims:
            self._stop(found.pop(env_id), tick)
        for env in found.values():
            self._watch(env, tick + self.every)

    # -- environments --------------------------------------------------------------------------
    def _create(self, provisioned: bool, now: float) -> SimEnv:
        env = SimEnv(f"e{self.tally.created + 1}", provisioned, now)
        self.envs[env.id] = env
        self.provisioned_alive += provisioned
        self.tally.env_created()
        return env

    def _provision(self, now: float, initial: bool = False) -> None:
        """Provisioned environments start before traffic (keepwarm initialises them before it
        serves), and one in place of each that stops; the latter are idle once their Init has
        run."""
        target = self.model.provisioned_concurrency
        for _ in range(scheduler.provisioned_missing(target, self.provisioned_alive)):
            env = self._create(True, now)
            if initial:
                self._ready(env, now)
            else:
                self._initialize(env, now)

    def _initialize(self, env: SimEnv, now: float) -> None:
        """Init in the background (a provisioned environment): taken once it has run."""
        env.state, env.fills = INIT, None
        heapq.heappush(self.ready, (now + self.init(), next(self.seq), env))

    def _ready(self, env: SimEnv, now: float) -> None:
        env.state = IDLE
        self.idle_provisioned[env.id] = env
        self._watch(env, now)

    def _stop(self, env: SimEnv, now: float) -> None:
        env.state = DEAD
        for view in (self.idle, self.idle_provisioned, self.reset):
            view.pop(env.id, None)
        del self.envs[env.id]
        self.provisioned_alive -= env.provisioned
        self.tally.env_ended(env.invocations, now - env.created)
        if env.provisioned:
            self._provision(now)

    # -- invocations ---------------------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        """What ``Router._snapshot`` gives ``place`` when this is the server's only function."""
        reserved = self.model.reserved_concurrency
        inflight = self.inflight
        return Snapshot(
            idle_provisioned=scheduler.mru(self.idle_provisioned),
            idle_mru=scheduler.mru(self.idle),
            reset_mru=scheduler.mru(self.reset),
            function_inflight=inflight,
            reserved=reserved,
            account_inflight=inflight,
            account_limit=self.model.concurrency_limit,
            unreserved_inflight=0 if reserved is not None else inflight,
            reserved_total=reserved or 0,
        )

    def _arrive(self, now: float, duration: float) -> None:
        self.now = now
        placement = scheduler.place(self._snapshot())
        timeout = self.model.timeout_s
        if placement.action is Action.THROTTLE:
            self.tally.throttle(placement.reason or "")
            return
        init = 0.0
        if placement.action is Action.WARM and placement.env_id is not None:
            env = self.envs[placement.env_id]
            (self.idle_provisioned if env.provisioned else self.idle).pop(env.id)
            kind = StartKind.PROVISIONED if env.provisioned else StartKind.WARM
            busy, timed_out = min(duration, timeout), duration >= timeout
        elif placement.action is Action.RESET and placement.env_id is not None:
            env = self.reset.pop(placement.env_id)  # Init runs again, inside the timeout
            kind, init, env.fills = StartKind.COLD, self.init(), None
            busy, timed_out = min(init + duration, timeout), init + duration >= timeout
        else:
            env = self._create(False, now)  # Init has its own limit, then the handler its own
            kind, init = StartKind.COLD, self.init()
            busy, timed_out = init + min(duration, timeout), duration >= timeout
        env.state = BUSY
        self.inflight += 1
        env.fills = self.tally.start(kind, env.id, env.fills, now + init)
        heapq.heappush(self.done, (now + busy, next(self.seq), env, busy, timed_out))

    def _complete(self, now: float, env: SimEnv, busy_s: float, timed_out: bool) -> None:
        """As ``LocalEnvironment._finish`` then ``FunctionPool._on_state``: counted, stamped,
        then reset (after a timeout), retired, or idle at the most-recently-used end."""
        self.now = now
        self.inflight -= 1
        self.tally.finish(busy_s)
        env.invocations += 1
        env.last_used = now
        if timed_out:
            self.tally.timeouts += 1
            if scheduler.reinit_now(env.provisioned, served_since_init=True):
                self._initialize(env, now)
                return
            env.state, env.fills = RESET, None
            self.reset[env.id] = env
        elif scheduler.should_retire(
            env.invocations, self.model.max_invocations_per_env, self.model.reuse, self.coin()
        ):
            self._stop(env, now)
            return
        else:
            env.state = IDLE
            (self.idle_provisioned if env.provisioned else self.idle)[env.id] = env
        self._watch(env, now)
