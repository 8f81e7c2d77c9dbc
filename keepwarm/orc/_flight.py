"""Single-flight: while one caller loads a missing key, the others wait for its result.

A cold environment that receives a burst (threads, or tasks in one event loop) would otherwise
send the whole burst to the origin. Thread flights and asyncio flights are separate because a
thread cannot await a future and a task must not block its loop on an event.

``asyncio`` costs ~20 ms to import, which a synchronous handler should not pay on its cold
start, so it is imported where a flight is actually awaited: by then it is loaded anyway.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class Flight:
    """One in-progress load shared by threads."""

    __slots__ = ("_done", "_error", "_value")

    def usable(self) -> bool:
        """A thread flight lives until its leader finishes it; then it is removed."""
        return True

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def resolve(self, value: Any) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wait(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


class AsyncFlight:
    """One in-progress load shared by tasks of one event loop.

    Bound to the loop it was created on: handlers that call ``asyncio.run`` per invocation get a
    new loop each time, and a future from a closed loop must never be awaited.
    """

    __slots__ = ("future", "loop")

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Any] = self.loop.create_future()

    def usable(self) -> bool:
        import asyncio

        return self.loop is asyncio.get_running_loop() and not self.future.done()

    def resolve(self, value: Any) -> None:
        if not self.future.done():
            self.future.set_result(value)

    def fail(self, error: BaseException) -> None:
        import asyncio

        if self.future.done():
            return
        if isinstance(error, asyncio.CancelledError):
            self.future.cancel()
        else:
            self.future.set_exception(error)
            self.future.exception()  # nobody may be waiting; don't log "never retrieved"

    async def wait(self) -> Any:
        """Return the leader's result; ``LEADER_GONE`` if the leader was cancelled instead."""
        import asyncio

        try:
            return await asyncio.shield(self.future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.future.cancelled() and task is not None and not task.cancelling():
                return LEADER_GONE
            raise


LEADER_GONE: Any = object()
