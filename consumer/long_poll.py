"""A long poll that a stop does not wait out.

A receive can wait up to 20 seconds for messages and botocore cannot interrupt it, so a
worker that waited for it would take that long to stop on Ctrl-C or SIGTERM. Each poller's
receives run on one daemon thread of its own; the poller waits for the answer or for a
stop, whichever comes first. A poll abandoned at a stop is left to finish on that thread:
what it brings back while the process lives is made visible again at once, and if the
process has exited by then SQS makes it visible after the visibility timeout. Nothing is
lost either way, and no handler starts after a stop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from consumer.queue import Queue
from consumer.shutdown import Shutdown
from shared.aws import AwsError, ReceivedMessage

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.2
"""How often a waiting poller looks for a stop: the most a stop waits for a long poll."""

_Answer = Sequence[ReceivedMessage] | Exception


class LongPoll:
    """Receives from `queue` on a daemon thread; `receive` returns None once stopped."""

    def __init__(self, queue_: Queue, shutdown: Shutdown, name: str) -> None:
        self.queue = queue_
        self.shutdown = shutdown
        self.name = name
        self._requests: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
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
            max_messages, wait_time_seconds = self._requests.get()
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
                self._release(answer)
            return

    def _release(self, messages: Sequence[ReceivedMessage]) -> None:
        try:
            self.queue.change_visibility([(m.receipt_handle, 0) for m in messages])
        except AwsError as exc:
            log.info("%d messages received after the stop return later: %s", len(messages), exc)
            return
        log.info("%d messages received after the stop were made visible again", len(messages))
