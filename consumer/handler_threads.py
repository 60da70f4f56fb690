"""The threads plain `def` handlers run on: made once, reused for every message.

A thread cannot be cancelled, so a sync handler runs on one of these while the worker's
thread waits for it with the time limit; one that overruns is abandoned. Its thread is
written off (it leaves once the call returns) and replaced at once, so the capacity holds;
at most `max_written_off` written-off threads may still be running, beyond which none is
replaced and the pool shrinks until they return. Nothing is made per message.
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
        self._running: dict[Future[Any], threading.Thread] = {}
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

    def abandon(self, future: Future[Any]) -> None:
        """Write off the thread running `future`'s call and start another in its place."""
        with self._lock:
            thread = self._running.get(future)
            if thread is None or thread not in self._threads:  # it finished meanwhile
                return
            self._threads.discard(thread)
            self._written_off.add(thread)
            if self._fill():
                self.replaced += 1
            else:
                log.warning(
                    "%d abandoned handler calls still run: not replacing their threads; "
                    "%d handler threads left",
                    len(self._written_off),
                    len(self._threads),
                )

    def close(self) -> None:
        """Let the threads leave once the jobs before this are done; returns at once. A
        later `submit` starts threads again."""
        with self._lock:
            leaving, self._threads = len(self._threads), set()
        for _ in range(leaving):
            self._jobs.put(None)

    def _fill(self) -> bool:
        """Start threads up to `size`, while the written-off ones are within their bound;
        returns whether any was started."""
        started = False
        limit = self.size + self.max_written_off
        while (
            len(self._threads) < self.size and len(self._threads) + len(self._written_off) < limit
        ):
            self._start()
            started = True
        return started

    def _start(self) -> None:
        thread = threading.Thread(
            target=self._serve, name=f"handler-call-{next(self._names)}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            job = self._jobs.get()
            if job is None:
                break
            with self._lock:
                if not job.future.set_running_or_notify_cancel():
                    continue  # cancelled before it started
                self._running[job.future] = me
            try:
                job.future.set_result(job.call())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
                job.future.set_exception(exc)
            with self._lock:
                del self._running[job.future]
                if me in self._written_off:
                    self._written_off.discard(me)
                    return
        with self._lock:
            self._threads.discard(me)
