"""Holding every handler call of a worker to its time limit, from one thread.

A plain `def` handler runs on the handler thread that took its message, and an `async def`
one as a task on the handler loop while that thread waits. Either way nobody else watches
the clock for it: the watchdog does, for all of them at once. When a call passes its time
limit (`CONSUMER_HANDLER_TIMEOUT_SECONDS`) or the shutdown deadline, the watchdog runs the
call's `on_overrun` exactly once: a task is cancelled, a thread is written off and its
message settled as abandoned. While a call runs, the watchdog also renews its idempotency
claim. The call's own thread learns which came first from `Watchdog.done`. Both run in the
call's context, so what they log carries the message's ids.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable

from typing_extensions import override

from consumer.chores import Chore
from consumer.shutdown import Shutdown

TICK_SECONDS = 0.1
"""How late past its limit a call may be stopped; ten checks a second cost nothing."""


class Watch:
    """One call under watch. Whichever of the call's return and its overrun comes first
    decides; the other learns it lost."""

    def __init__(
        self, deadline: float, on_overrun: Callable[[], object], renew: Callable[[], None]
    ) -> None:
        self.deadline = deadline
        self._on_overrun = on_overrun
        self._renew = renew
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._settled = False

    def on_overrun(self) -> None:
        self._context.run(self._on_overrun)

    def renew(self) -> None:
        self._context.run(self._renew)

    def settle(self) -> bool:
        """True for the first to settle this call, False for whoever comes after."""
        with self._lock:
            first, self._settled = not self._settled, True
            return first


class Watchdog(Chore):
    """Every running call's limit and claim renewal, checked ten times a second."""

    name = "watchdog"
    period = TICK_SECONDS

    def __init__(
        self,
        shutdown: Shutdown,
        limit_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.shutdown = shutdown
        self.limit_seconds = limit_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._watched: set[Watch] = set()

    def watch(
        self, on_overrun: Callable[[], object], renew: Callable[[], None] = lambda: None
    ) -> Watch:
        """Start watching a call that starts now."""
        watch = Watch(self._clock() + self.limit_seconds, on_overrun, renew)
        with self._lock:
            self._watched.add(watch)
        return watch

    def done(self, watch: Watch) -> bool:
        """The call returned: True if within its limit, False if it was already settled as
        an overrun."""
        self._forget(watch)
        return watch.settle()

    def _forget(self, watch: Watch) -> None:
        with self._lock:
            self._watched.discard(watch)

    @property
    def watched(self) -> int:
        with self._lock:
            return len(self._watched)

    @override
    def run(self) -> None:
        now = self._clock()
        stop_at = self.shutdown.deadline
        with self._lock:
            watched = list(self._watched)
        for watch in watched:
            limit = watch.deadline if stop_at is None else min(watch.deadline, stop_at)
            if now < limit:
                watch.renew()
            elif watch.settle():
                self._forget(watch)
                watch.on_overrun()

    @override
    def finish(self) -> None:
        """At the stop every call has returned or been settled: a last check settles any
        still past its limit."""
        self.run()
