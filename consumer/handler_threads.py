"""The worker's handler threads: made once, reused for every message.

Each takes a received message and handles it, a plain `def` handler running right there.
A thread cannot be cancelled, so when a call overruns, the watchdog writes its thread off
(it leaves once the call returns) and one is started in its place at once, so the capacity
holds. At most `max_written_off` written-off threads may still be running, beyond which
none is replaced and the pool shrinks until they return. Nothing is made per message.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from itertools import count
from typing import Any

log = logging.getLogger(__name__)


class _Job:
    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.future: Future[Any] = Future()


class HandlerThreads:
    """A fixed number of reusable threads, with abandoned ones replaced, bounded."""

    def __init__(self, size: int, *, max_written_off: int | None = None) -> None:
        self.size = size
        self.max_written_off = size if max_written_off is None else max_written_off
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._written_off: set[threading.Thread] = set()
        self._left = threading.Condition(self._lock)
        self._closing = False
        self._names = count(1)
        self.replaced = 0
        """Threads started in place of abandoned ones."""

    @property
    def threads(self) -> int:
        """Threads alive: the pool's and those written off that still run."""
        with self._lock:
            return len(self._threads) + len(self._written_off)

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        """Run `call` on a pool thread; the future settles with its result or error."""
        job = _Job(call)
        with self._lock:
            self._fill()
        self._jobs.put(job)
        return job.future

    def write_off(self, thread: threading.Thread) -> None:
        """Give up on `thread`'s call: it leaves once that returns, and another serves in its
        place."""
        with self._lock:
            if thread not in self._threads:
                return
            self._threads.discard(thread)
            self._written_off.add(thread)
            # While closing, one for one: each thread serving then takes one leave-token.
            if self._fill(at_most=1 if self._closing else None):
                self.replaced += 1
            else:
                log.warning(
                    "%d abandoned handler calls still run: not replacing their threads; "
                    "%d handler threads left",
                    len(self._written_off),
                    len(self._threads),
                )

    def close(self, timeout: float | None = None) -> bool:
        """Let the threads leave once every job before this is done, and wait for them up to
        `timeout`, but not for those written off. A later `submit` starts threads again.
        Returns whether all have left."""
        with self._lock:
            self._closing = True
            leaving = len(self._threads)
        for _ in range(leaving):
            self._jobs.put(None)
        with self._left:
            left = self._left.wait_for(lambda: not self._threads, timeout)
            self._closing = False  # a leave-token still queued is ignored from now on
            return left

    def _fill(self, at_most: int | None = None) -> bool:
        """Start threads up to `size`, while the written-off ones are within their bound;
        returns whether any was started."""
        started = 0
        limit = self.size + self.max_written_off
        while (
            len(self._threads) < self.size
            and len(self._threads) + len(self._written_off) < limit
            and (at_most is None or started < at_most)
        ):
            self._start()
            started += 1
        return started > 0

    def _start(self) -> None:
        thread = threading.Thread(
            target=self._serve, name=f"handler-{next(self._names)}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            job = self._jobs.get()
            if job is None:
                with self._lock:
                    if self._closing and me in self._threads:
                        self._threads.discard(me)
                        self._left.notify_all()
                        return
                continue
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled before it started
            try:
                job.future.set_result(job.call())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                job.future.set_exception(exc)
            with self._lock:
                if me in self._written_off:
                    self._written_off.discard(me)
                    return
