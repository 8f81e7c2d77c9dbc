"""The dispatcher: runs queued events with Lambda's retry policy and delivers their records.

Why the state lives in SQLite and not here: the dispatcher may die at any instruction (kill -9);
an event is claimed (``running``), then rescheduled or finished in one transaction, and anything
still ``running`` at start-up runs again. Delivery is therefore at-least-once, as on Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import simplejson  # type: ignore[import-untyped,unused-ignore]
from simplejson.raw_json import RawJSON  # type: ignore[import-untyped,unused-ignore]

from keepwarm.asyncq.policy import RetryPolicy
from keepwarm.asyncq.store import DeadLetter, Event, EventStore
from keepwarm.errors import FunctionNotFound, ServiceError
from keepwarm.invocation import Invocation, InvocationResult
from keepwarm.registry.names import FunctionRef, parse_function_arn
from keepwarm.registry.service import FunctionService

log = logging.getLogger("keepwarm.asyncq")


def _json_or_text(data: bytes) -> Any:
    """A payload for a record: JSON kept as its own text (never parsed and written again, which
    a payload nested near the parser's limit does not survive), anything else as a string."""
    if not data:
        return None
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        if not _json_anyway(data):
            return data.decode(errors="replace")
    return RawJSON(data.decode("utf-8-sig", errors="surrogatepass"))


def _json_anyway(data: bytes) -> bool:
    """JSON that orjson refuses and Invoke accepts (lone surrogate escapes)."""
    try:
        simplejson.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def _dumps(doc: Any) -> str:
    return str(simplejson.dumps(doc))


def _backoff_s(failures: int) -> float:
    return float(min(0.05 * 2 ** min(failures, 8), 5.0))


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class Dispatcher:
    def __init__(
        self,
        store: EventStore,
        service: FunctionService,
        policy: RetryPolicy | None = None,
        max_inflight: int = 64,
    ) -> None:
        self.store = store
        self.service = service
        self.policy = policy or RetryPolicy()
        self.max_inflight = max_inflight
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._by_function: dict[str, int] = {}  # events running, per function
        self._full: set[str] = set()  # functions at their share: only a _done frees room
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        recovered = await asyncio.to_thread(self.store.recover)
        if recovered:
            log.warning("keepwarm: re-queued %d event(s) that were running at shutdown", recovered)
        self._loop_task = asyncio.ensure_future(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def enqueue(self, event: Event) -> None:
        await self.store.enqueue(event)
        self.wake()

    # -- the loop ------------------------------------------------------------------------------
    async def _loop(self) -> None:
        """Claim and wait, for good: a failed store call (a full disk, a database locked by
        someone else) is logged and retried with backoff, never the end of dispatching."""
        failures = 0
        while not self._stopping:
            try:
                await self._turn()
                failures = 0
            except Exception:
                failures += 1
                if failures == 1:
                    log.exception("keepwarm: the async queue failed; retrying until it works")
                await asyncio.sleep(_backoff_s(failures))

    async def _turn(self) -> None:
        self._wake.clear()
        if await self._claim_fairly():
            return
        due = await self.store.next_due(excluding=self._full)
        if due is None or len(self._running) >= 2 * self.max_inflight:
            timeout = None
        else:
            timeout = max(0.0, due - time.time())
        with contextlib.suppress(TimeoutError):  # the end of a running event wakes it too
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _claim_fairly(self) -> int:
        """Start due events, each function up to its fair share of ``max_inflight``.

        Why shares: Lambda queues each function's events apart, so one function's slow events
        never hold back another's. Here every function with events running or due gets an
        equal share of the slots; and a function with nothing running may start one event even
        when all slots are taken (up to twice ``max_inflight``), so a newcomer waits for no one.
        """
        due = await self.store.due_functions(time.time())
        active = len(set(due) | set(self._by_function))
        share = max(1, self.max_inflight // max(active, 1))
        started = 0
        for function in due:
            room = self._room(function, share)
            if room > 0:
                for event in await self.store.claim(time.time(), room, function):
                    self._start(event)
                    started += 1
        self._full = {f for f in {*due, *self._by_function} if self._room(f, share) <= 0}
        return started

    def _room(self, function: str, share: int) -> int:
        running = self._by_function.get(function, 0)
        room = min(share - running, self.max_inflight - len(self._running))
        if running == 0 and len(self._running) < 2 * self.max_inflight:
            room = max(room, 1)
        return room

    def _start(self, event: Event) -> None:
        self._by_function[event.function] = self._by_function.get(event.function, 0) + 1
        task = asyncio.ensure_future(self._run(event))
        self._running.add(task)
        task.add_done_callback(lambda t: self._done(t, event.function))

    def _done(self, task: asyncio.Task[None], function: str) -> None:
        self._running.discard(task)
        self._by_function[function] -= 1
        if not self._by_function[function]:
            del self._by_function[function]
        self._wake.set()

    async def _run(self, event: Event) -> None:
        """One event, whose outcome must reach the store: a write that fails is retried until
        it succeeds or the server stops (then the event is still ``running`` in the store and
        runs again at the next start, as after a crash)."""
        try:
            await self._attempt(event)
        except Exception:
            log.exception("keepwarm: async event %s failed in the dispatcher", event.id)
            await self._backoff(event)

    async def _attempt(self, event: Event) -> None:
        settings = self.service.async_settings(event.function, event.qualifier)
        now = time.time()
        if now - event.enqueued_at > self.policy.max_age(settings["MaximumEventAgeInSeconds"]):
            await self._fail(event, settings, "EventAgeExceeded")
            return
        try:
            target = self.service.target(FunctionRef(event.function, event.qualifier))
        except FunctionNotFound:
            log.warning(
                "keepwarm: dropping event %s: %s no longer exists", event.id, event.function
            )
            await self._durably(lambda: self.store.finish(event))
            return
        except ServiceError:
            await self._backoff(event)
            return
        if settings["Reserved"] == 0:
            await self._fail(event, settings, "RetriesExhausted")
            return
        invocation = Invocation(
            payload=event.payload, request_id=event.id, invoked_arn=target.invoked_arn
        )
        try:
            result = await self.service.runtime.run(target.name, invocation, target.version)
        except ServiceError:
            await self._backoff(event)
            return
        await self._after(event, settings, result)

    async def _backoff(self, event: Event) -> None:
        """Throttles and service errors: exponential backoff, not counted as a retry."""
        event.throttles += 1
        event.next_at = time.time() + self.policy.throttle_delay(event.throttles)
        await self._durably(lambda: self.store.reschedule(event))

    async def _durably(self, write: Callable[[], Awaitable[None]]) -> None:
        failures = 0
        while True:
            try:
                await write()
                return
            except Exception:
                failures += 1
                if failures == 1:
                    log.exception("keepwarm: cannot record an async event's outcome; retrying")
                if self._stopping:
                    return
                await asyncio.sleep(_backoff_s(failures))

    async def _after(
        self, event: Event, settings: dict[str, Any], result: InvocationResult
    ) -> None:
        event.attempts += 1
        event.last_result = {
            "executedVersion": result.executed_version,
            "functionError": result.function_error,
            "payload": result.payload.decode(errors="replace"),
        }
        if result.ok:
            await self._deliver(event, settings["OnSuccess"], "Success", None)
        elif event.attempts > settings["MaximumRetryAttempts"]:
            await self._fail(event, settings, "RetriesExhausted")
        else:
            event.next_at = time.time() + self.policy.retry_delay(event.attempts)
            await self._durably(lambda: self.store.reschedule(event))

    # -- endings -------------------------------------------------------------------------------
    async def _fail(self, event: Event, settings: dict[str, Any], condition: str) -> None:
        if settings["OnFailure"]:
            await self._deliver(event, settings["OnFailure"], condition, None)
        elif settings["DeadLetterTarget"]:
            body = _dumps(_json_or_text(event.payload))
            dead = DeadLetter(event.function, settings["DeadLetterTarget"], "dlq", condition, body)
            await self._deliver(event, None, condition, dead)
        else:
            log.warning("keepwarm: async event %s discarded (%s)", event.id, condition)
            await self._durably(lambda: self.store.finish(event))

    async def _deliver(
        self, event: Event, destination: str | None, condition: str, dead: DeadLetter | None
    ) -> None:
        follow_up = None
        if destination:
            body = _dumps(self.record(event, condition))
            ref = parse_function_arn(destination, self.service.server.region)
            if ref is not None:
                follow_up = Event(ref.name, ref.qualifier, body.encode())
            else:
                dead = DeadLetter(event.function, destination, "destination", condition, body)
        await self._durably(lambda: self.store.finish(event, follow_up=follow_up, dead=dead))
        if follow_up is not None:
            self.wake()

    def record(self, event: Event, condition: str) -> dict[str, Any]:
        """The v1.0 invocation record of contract §6.4."""
        arn = self.service.arn(event.function, event.qualifier or "$LATEST")
        out: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _iso(time.time()),
            "requestContext": {
                "requestId": event.id,
                "functionArn": arn,
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
        }
        last = event.last_result
        if last is not None:
            context: dict[str, Any] = {
                "statusCode": 200,
                "executedVersion": last["executedVersion"],
            }
            if last["functionError"]:
                context["functionError"] = last["functionError"]
            out["responseContext"] = context
            out["responsePayload"] = _json_or_text(last["payload"].encode())
        return out

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop claiming; let running events finish (else they stay 'running' and re-run)."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._running:
            _done, pending = await asyncio.wait(set(self._running), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.store.close()
