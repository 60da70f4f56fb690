"""One event loop for every `async def` handler of the process, alive as long as it runs.

A loop per message (`asyncio.run` each time) would close whatever a handler keeps between
messages: an `httpx.AsyncClient`, a database pool, a cache. So every coroutine handler runs
as a task on this one loop, on a thread of its own; the worker's thread only waits for the
task's future, and an overrunning task is cancelled there, not abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

CLOSE_SECONDS = 5.0
"""How long `close` lets cancelled tasks finish their cleanup."""


class HandlerLoop:
    """An asyncio loop on a daemon thread, started on first use and safe to use from any
    thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; starts it on first use."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = self._start()
            return self._loop

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run `coroutine` as a task on the loop; cancelling the future cancels the task."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result, from a thread not the loop's."""
        return self.submit(coroutine).result()

    def close(self) -> None:
        """Cancel what still runs, let it clean up for a moment, then stop the loop."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already stopped
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(CLOSE_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CLOSE_SECONDS)
        if not thread.is_alive():
            loop.close()

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=serve, name="handler-loop", daemon=True)
        thread.start()
        ready.wait()
        self._thread = thread
        return loop


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


handler_loop = HandlerLoop()
"""The process's loop: every worker's async handlers run on it."""
