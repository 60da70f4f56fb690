"""Keeping held messages invisible while they wait for or run in a handler.

Without it, a handler that runs longer than the visibility timeout would see its message
delivered a second time, to another consumer, while it is still working on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from typing_extensions import override

from consumer.chores import Chore
from consumer.metrics import Metrics
from consumer.queue import Queue
from shared.aws import AwsError, ReceivedMessage
from shared.aws.limits import MAX_BATCH_ENTRIES

log = logging.getLogger(__name__)


@dataclass
class _Held:
    received_at: float
    extended_at: float


class Heartbeat(Chore):
    """Extends the visibility of every held message once a fraction of it has passed.

    A message is held from the moment it is received until it is settled; after
    `max_hold_seconds` it is no longer extended, so SQS can hand it to someone else. As a
    chore it looks for due messages four times per extension interval, at most once a second.
    """

    name = "heartbeat"

    def __init__(
        self,
        queue: Queue,
        metrics: Metrics,
        *,
        visibility_timeout: int,
        after_fraction: float,
        max_hold_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.queue = queue
        self.metrics = metrics
        self.visibility_timeout = visibility_timeout
        self.interval = visibility_timeout * after_fraction
        """Extensions renew the queue's timeout, this far apart."""
        self.period = max(0.05, min(1.0, self.interval / 4)) if self.interval > 0 else 0.0
        """A zero visibility timeout has nothing to extend."""
        self.max_hold_seconds = max_hold_seconds
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def hold(self, messages: Sequence[ReceivedMessage]) -> None:
        now = self._clock()
        with self._lock:
            for message in messages:
                self._held[message.receipt_handle] = _Held(now, now)

    def let_go(self, receipt_handles: Sequence[str]) -> None:
        with self._lock:
            for handle in receipt_handles:
                self._held.pop(handle, None)

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def due(self) -> list[str]:
        """Held messages whose visibility needs extending now."""
        now = self._clock()
        with self._lock:
            return [
                handle
                for handle, held in self._held.items()
                if now - held.extended_at >= self.interval
                and now - held.received_at < self.max_hold_seconds
            ]

    def beat(self) -> int:
        """Extend every due message, in batches of ten; returns how many were extended."""
        due = self.due()
        extended = 0
        for start in range(0, len(due), MAX_BATCH_ENTRIES):
            chunk = due[start : start + MAX_BATCH_ENTRIES]
            try:
                failures = self.queue.change_visibility(
                    [(handle, self.visibility_timeout) for handle in chunk]
                )
            except AwsError as exc:
                log.warning("could not extend visibility of %d messages: %s", len(chunk), exc)
                continue
            failed = {int(f.entry_id) for f in failures}
            now = self._clock()
            with self._lock:
                for index, handle in enumerate(chunk):
                    if index not in failed and handle in self._held:
                        self._held[handle].extended_at = now
                        extended += 1
            for failure in failures:
                log.warning("visibility not extended: %s %s", failure.code, failure.message)
        self.metrics.visibility_extended.inc(extended)
        return extended

    @override
    def run(self) -> None:
        self.beat()
