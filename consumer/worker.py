"""The long-polling loop: receive, dispatch to handlers, delete only what succeeded.

A message is acknowledged (deleted) only after its handler returned. Anything else leaves
it in the queue: it reappears after the visibility timeout and, after the queue's
maxReceiveCount, lands in the dead-letter queue. Nothing here lets one bad message, one
failed call or one failing handler stop the loop.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from shared.errors import SqsError
from shared.models import Envelope
from shared.settings import Settings
from shared.sqs import ReceivedMessage, SqsQueue

log = logging.getLogger(__name__)

DELETE_ATTEMPTS = 3


@dataclass
class BatchOutcome:
    """What became of one received batch, by SQS MessageId."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)


class Worker:
    """Polls one queue until stopped; `run(until_empty=True)` drains it and returns (tests)."""

    def __init__(
        self,
        queue: SqsQueue,
        registry: HandlerRegistry,
        settings: Settings,
        metrics: Metrics | None = None,
    ) -> None:
        self.queue = queue
        self.registry = registry
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._stopping = threading.Event()
        self._last_receive = time.monotonic()
        self._running = False

    def stop(self) -> None:
        """Ask the loop to finish: the current handler completes, nothing new starts."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def is_healthy(self) -> bool:
        """False once no receive has completed for `stale_after_seconds`: the poller is stuck."""
        stale_after = self.settings.consumer.stale_after_seconds
        return self._running and time.monotonic() - self._last_receive < stale_after

    def run(self, *, max_batches: int | None = None, until_empty: bool = False) -> None:
        """Poll until stopped, until `max_batches` receives, or until a receive comes back empty."""
        sqs = self.settings.sqs
        self._running = True
        self._last_receive = time.monotonic()
        failures = 0
        batches = 0
        log.info(
            "polling %s (wait %ss, batch %s)",
            self.queue.name,
            sqs.wait_time_seconds,
            sqs.batch_size,
        )
        try:
            while not self.stopping and (max_batches is None or batches < max_batches):
                try:
                    messages = self.queue.receive(
                        max_messages=sqs.batch_size, wait_time_seconds=sqs.wait_time_seconds
                    )
                except SqsError as exc:
                    failures += 1
                    self.metrics.receive_errors.inc()
                    delay = self._backoff(failures)
                    log.warning("receive failed (%s); retrying in %.1fs", exc, delay)
                    self._stopping.wait(delay)
                    continue
                failures = 0
                batches += 1
                self._mark_receive()
                if messages:
                    self.process(messages)
                elif until_empty:
                    break
        finally:
            self._running = False
        log.info("stopped polling %s", self.queue.name)

    def process(self, messages: Sequence[ReceivedMessage]) -> BatchOutcome:
        """Handle a batch in order; once stopping, hand the unstarted rest back to the queue."""
        self.metrics.received.inc(len(messages))
        outcome = BatchOutcome()
        done: list[ReceivedMessage] = []
        for index, message in enumerate(messages):
            if self.stopping:
                self._release(messages[index:], outcome)
                break
            reason = self._handle(message)
            if reason is None:
                done.append(message)
                outcome.succeeded.append(message.message_id)
            else:
                outcome.failed[message.message_id] = reason
        self._delete(done)
        return outcome

    def _handle(self, message: ReceivedMessage) -> str | None:
        """Run the message's handler; return why it failed, or None on success."""
        try:
            envelope = Envelope.from_body(message.body)
        except ValidationError as exc:
            self.metrics.failed.labels("invalid_body").inc()
            log.error(
                "message %s is not a valid envelope (receive %d): %s",
                message.message_id,
                message.receive_count,
                exc.errors(include_url=False, include_input=False),
            )
            return "invalid_body"
        handler = self.registry.resolve(envelope.type)
        if handler is None:
            self.metrics.failed.labels("no_handler").inc()
            log.error("no handler for type %r (message %s)", envelope.type, envelope.id)
            return "no_handler"
        started = time.perf_counter()
        try:
            handler(envelope)
        except Exception:
            self.metrics.failed.labels("handler_error").inc()
            log.exception(
                "handler %s failed on message %s (receive %d)",
                handler.name,
                envelope.id,
                message.receive_count,
            )
            return "handler_error"
        finally:
            self.metrics.handler_seconds.labels(handler.name).observe(time.perf_counter() - started)
        self.metrics.processed.labels(handler.name).inc()
        return None

    def _delete(self, messages: Sequence[ReceivedMessage]) -> None:
        """Acknowledge in one call, retrying entries SQS reports as failed."""
        pending = list(messages)
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            if not pending:
                return
            try:
                failures = self.queue.delete_batch([m.receipt_handle for m in pending])
            except SqsError as exc:
                log.warning("delete attempt %d failed: %s", attempt, exc)
                time.sleep(self._backoff(attempt))
                continue
            failed_ids = {int(f.entry_id) for f in failures}
            self.metrics.deleted.inc(len(pending) - len(failed_ids))
            pending = [m for index, m in enumerate(pending) if index in failed_ids]
        for message in pending:
            log.error("could not delete message %s; it will be delivered again", message.message_id)

    def _release(self, messages: Sequence[ReceivedMessage], outcome: BatchOutcome) -> None:
        """Make unstarted messages visible again at once rather than after the timeout."""
        try:
            failures = self.queue.change_visibility_batch([m.receipt_handle for m in messages], 0)
        except SqsError as exc:
            log.warning("could not release %d messages: %s", len(messages), exc)
            return
        failed = {int(f.entry_id) for f in failures}
        released = [m.message_id for i, m in enumerate(messages) if i not in failed]
        outcome.released.extend(released)
        self.metrics.released.inc(len(released))
        log.info("released %d unstarted messages", len(released))

    def _mark_receive(self) -> None:
        self._last_receive = time.monotonic()
        self.metrics.last_receive.set_to_current_time()

    def _backoff(self, failures: int) -> float:
        """Exponential backoff, capped, with jitter so many workers do not retry in step."""
        ceiling = min(self.settings.consumer.error_backoff_max_seconds, 0.25 * 2.0**failures)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto
