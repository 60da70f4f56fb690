"""A long poll that a stop does not wait out.

A receive can wait up to 20 seconds for messages and botocore cannot interrupt it, so a
worker that waited for it would take that long to stop on Ctrl-C or SIGTERM. Each poller's
receives run on one daemon thread of its own; the poller waits for the answer or for a
stop, whichever comes first. A poll abandoned at a stop is left to finish on that thread:
what it brings back goes to `on_late` (the worker releases it: visible again at once), and
the worker gives it `ABANDONED_POLL_GRACE_SECONDS` to come back before the process exits;
after that, SQS makes what it took visible after the visibility timeout. Nothing is lost
either way, and no handler starts after a stop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from consumer.queue import Queue
from consumer.shutdown import Shutdown
from shared.aws import ReceivedMessage

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.2
"""How often a waiting poller looks for a stop: the most a stop waits for a long poll."""
ABANDONED_POLL_GRACE_SECONDS = 1.0
"""How long a stopping worker waits for an abandoned poll: one that found messages answers
in milliseconds, so they go back at once; an empty one may wait its full 20 seconds."""

_Answer = Sequence[ReceivedMessage] | Exception


class LongPoll:
    """Receives from `queue` on a daemon thread; `receive` returns None once stopped."""

    def __init__(
        self,
        queue_: Queue,
        shutdown: Shutdown,
        name: str,
        on_late: Callable[[Sequence[ReceivedMessage]], None],
    ) -> None:
        """`on_late` takes what a poll abandoned at a stop brought back."""
        self.queue = queue_
        self.shutdown = shutdown
        self.name = name
        self.on_late = on_late
        self._requests: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._abandoned = False
        self._pending = False
        self._thread: threading.Thread | None = None

    def receive(
        self, max_messages: int, wait_time_seconds: int
    ) -> Sequence[ReceivedMessage] | None:
        """The messages received (raising what the receive raised), or None when a stop
        came first."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
            self._thread.start()
        if not self._pending:
            self._requests.put((max_messages, wait_time_seconds))
            self._pending = True
        while True:
            try:
                answer = self._answers.get(timeout=STOP_CHECK_SECONDS)
            except queue.Empty:
                if not self.shutdown.requested:
                    continue
                with self._lock:  # an answer put just now is taken, not stranded
                    try:
                        answer = self._answers.get_nowait()
                    except queue.Empty:
                        self._abandoned = True
                        return None
            self._pending = False
            if isinstance(answer, Exception):
                raise answer
            return answer

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                return
            max_messages, wait_time_seconds = request
            answer: _Answer
            try:
                answer = self.queue.receive(
                    max_messages=max_messages, wait_time_seconds=wait_time_seconds
                )
            except Exception as exc:  # noqa: BLE001  # the poller raises it on its own thread
                answer = exc
            with self._lock:
                if not self._abandoned:
                    self._answers.put(answer)
                    continue
            if not isinstance(answer, Exception) and answer:
                self.on_late(answer)
            return

    def finish(self, grace: float = ABANDONED_POLL_GRACE_SECONDS) -> None:
        """End the receiving thread: an idle one at once; an abandoned poll gets up to
        `grace` seconds to come back and hand over what it took."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._abandoned:
            thread.join(grace)
        else:
            self._requests.put(None)
