"""A private event loop for blocking callers, run on the caller's own thread whenever it can be.

Why: handing a coroutine to a loop thread and blocking until it answers costs two thread
wake-ups (on a 2-vCPU VM, ~40 µs: as much as a whole warm invocation). So a blocking call runs
the loop itself, in its own thread, for as long as the call lasts. A background thread runs the
loop only when no call has for ``GRACE_S`` (timers, keep-alive reclaim, log pipes, process
exits must still be served between calls), or when coroutines from other threads are waiting
while nobody drives. One thread runs the loop at a time; ``_driver`` says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future, InvalidStateError
from typing import Any, TypeVar

T = TypeVar("T")
GRACE_S = 0.005
_BACKGROUND = -1


class _BlockingCall:
    """One coroutine run by whichever thread drives the loop, for a caller that waits."""

    __slots__ = ("_coro", "_done", "_error", "_future", "_on_end", "_result")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], on_end: Any, future: Future[Any] | None = None
    ) -> None:
        self._coro = coro
        self._on_end = on_end
        self._future = future
        self._done = threading.Lock()
        self._done.acquire()
        self._result: Any = None
        self._error: BaseException | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            task = loop.create_task(self._coro)
        except BaseException as exc:  # the loop is closing: tell the caller, never hang it
            self._coro.close()
            self._error = exc
            self._end()
            return
        task.add_done_callback(self._finish)

    def _finish(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self._error = asyncio.CancelledError()
        elif (exc := task.exception()) is not None:
            self._error = exc
        else:
            self._result = task.result()
        self._end()

    def _end(self) -> None:
        self._on_end()
        self._done.release()
        if self._future is not None:
            with contextlib.suppress(InvalidStateError):  # its caller stopped waiting: fine
                if self._error is not None:
                    self._future.set_exception(self._error)
                else:
                    self._future.set_result(self._result)

    def wait(self) -> Any:
        self._done.acquire()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._result


class LoopDriver:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._cond = threading.Condition()
        self._driver: int | None = None  # the thread running the loop (_BACKGROUND: ours)
        self._waiting = 0  # calls handed over by threads that could not drive
        self._released = time.monotonic()
        self._closing = False
        self._stop_sent = False
        self._wanted = 0  # callers waiting for the background thread to stop driving
        self._thread = threading.Thread(target=self._background, name="keepwarm", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion and return its result (or raise its exception)."""
        if self._take():
            task = self.loop.create_task(coro)
            try:
                return self.loop.run_until_complete(task)
            except BaseException:  # Ctrl-C, or the call itself raised a BaseException
                if task.done():
                    _outcome_taken(task)  # it is what propagates (as run_until_complete does)
                else:
                    task.add_done_callback(_outcome_taken)
                raise
            finally:
                self._give_back()
        return self._hand_over(coro).wait()  # type: ignore[no-any-return]

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``coro`` on the loop for a caller that waits on the returned future."""
        future: Future[T] = Future()
        self._hand_over(coro, future)
        return future

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._stop_background()
            self._cond.notify_all()
        self._thread.join(timeout=10)
        self.loop.close()

    # -- who drives ----------------------------------------------------------------------------
    def _take(self) -> bool:
        """Become the loop's driver; False when another caller drives (or we are in a loop)."""
        if _inside_a_running_loop():
            return False
        with self._cond:
            if self._driver == _BACKGROUND:
                self._wanted += 1  # so the background thread does not take it straight back
                self._stop_background()
                self._cond.wait_for(lambda: self._driver != _BACKGROUND)
                self._wanted -= 1
            if self._driver is not None:
                return False
            self._driver = threading.get_ident()
            return True

    def _give_back(self) -> None:
        with self._cond:
            self._driver = None
            self._released = time.monotonic()
            if self._waiting or self._closing:
                self._cond.notify_all()

    def _stop_background(self) -> None:
        """Ask the background thread to stop driving, once (a second, stray ``stop`` would
        end the next driver's ``run_until_complete`` early). Called holding ``_cond``."""
        if self._driver == _BACKGROUND and not self._stop_sent:
            self._stop_sent = True
            self.loop.call_soon_threadsafe(self.loop.stop)

    def _hand_over(
        self, coro: Coroutine[Any, Any, Any], future: Future[Any] | None = None
    ) -> _BlockingCall:
        call = _BlockingCall(coro, self._one_less, future)
        with self._cond:
            self._waiting += 1
            self._cond.notify_all()
        self.loop.call_soon_threadsafe(call.start, self.loop)
        return call

    def _one_less(self) -> None:
        with self._cond:
            self._waiting -= 1

    # -- the background thread -----------------------------------------------------------------
    def _background(self) -> None:
        while self._wait_for_turn():
            try:
                self.loop.run_forever()
            finally:
                with self._cond:
                    self._driver = None
                    self._stop_sent = False
                    self._cond.notify_all()

    def _wait_for_turn(self) -> bool:
        """Block until the loop needs a driver and nobody else drives; False: shut down."""
        with self._cond:
            while True:
                if self._driver is None and not self._wanted:
                    if self._waiting:
                        break
                    if self._closing:
                        return False
                    idle = time.monotonic() - self._released
                    if idle >= GRACE_S:
                        break
                    self._cond.wait(GRACE_S - idle)
                else:
                    self._cond.wait(GRACE_S)
            self._driver = _BACKGROUND
            return True


def _outcome_taken(task: asyncio.Task[Any]) -> None:
    """The outcome of a call its caller left while driving the loop (Ctrl-C is raised
    wherever the loop is). The call goes on, as an invocation whose caller stops waiting
    does, and its outcome (an error, when closing the runtime cuts it short) has nobody to go
    to: taken here, asyncio does not print it as a second traceback after the caller's."""
    if not task.cancelled():
        task.exception()


def _inside_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
