"""The long-polling loop: receive, dispatch to handlers, settle every outcome with SQS.

A message is deleted only after its handler succeeded. A failed one is made visible again
after a backoff; one that retrying cannot help is moved to the dead-letter queue with its
reason. Nothing here lets one bad message, one failed call or one failing handler stop
the loop; SIGTERM stops it gracefully.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Sequence

from consumer.acknowledger import Acknowledger
from consumer.dispatch import Dispatcher
from consumer.heartbeat import Heartbeat
from consumer.idempotency import IdempotencyStore, MemoryStore
from consumer.metrics import Metrics
from consumer.outcome import Outcome, Released
from consumer.registry import HandlerRegistry
from consumer.retry import Backoff
from shared.errors import SqsError
from shared.settings import Settings
from shared.sqs import ReceivedMessage, SqsQueue

log = logging.getLogger(__name__)


class Worker:
    """Polls one queue until stopped; `run(until_empty=True)` drains it and returns (tests)."""

    def __init__(
        self,
        queue: SqsQueue,
        registry: HandlerRegistry,
        settings: Settings,
        metrics: Metrics | None = None,
        store: IdempotencyStore | None = None,
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.metrics = metrics or Metrics()
        consumer = settings.consumer
        self._stopping = threading.Event()
        self._stop_deadline: float | None = None
        self._last_receive = time.monotonic()
        self._handler_started: float | None = None
        self._running = False
        self._max_receive_count: int | None = settings.sqs.max_receive_count
        self._visibility_timeout = settings.sqs.visibility_timeout
        self.dispatcher = Dispatcher(
            registry,
            settings,
            self.metrics,
            store or MemoryStore(),
            max_receive_count=lambda: self._max_receive_count,
            stop_deadline=lambda: self._stop_deadline,
        )
        dlq = SqsQueue(queue.client, settings.sqs.dlq_name)
        backoff = Backoff(consumer.retry_base_seconds, consumer.retry_max_seconds)
        self.acknowledger = Acknowledger(queue, dlq, self.metrics, backoff)
        self.heartbeat: Heartbeat | None = None

    def stop(self) -> None:
        """Stop receiving; running handlers get `shutdown_timeout_seconds` to finish."""
        if not self._stopping.is_set():
            self._stop_deadline = time.monotonic() + self.settings.consumer.shutdown_timeout_seconds
            self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def is_healthy(self) -> bool:
        """False once no receive has completed for `stale_after_seconds`, unless a handler is
        running within its time limit: a busy worker is not a stuck one."""
        consumer = self.settings.consumer
        now = time.monotonic()
        if not self._running:
            return False
        if now - self._last_receive < consumer.stale_after_seconds:
            return True
        started = self._handler_started
        return started is not None and now - started < consumer.handler_timeout_seconds

    def run(self, *, max_batches: int | None = None, until_empty: bool = False) -> None:
        """Poll until stopped, until `max_batches` receives, or until a receive comes back empty."""
        self._running = True
        self._last_receive = time.monotonic()
        self._read_queue_settings()
        self.heartbeat = Heartbeat(
            self.queue,
            self.metrics,
            visibility_timeout=self._visibility_timeout,
            after_fraction=self.settings.consumer.heartbeat_after,
            max_hold_seconds=self.settings.consumer.handler_timeout_seconds,
        )
        self.heartbeat.start()
        try:
            self._loop(max_batches, until_empty)
        finally:
            self.heartbeat.stop()
            self._running = False
        log.info("stopped polling %s", self.queue.name)

    def _loop(self, max_batches: int | None, until_empty: bool) -> None:
        sqs = self.settings.sqs
        failures = 0
        batches = 0
        log.info(
            "polling %s (wait %ss, batch %s)",
            self.queue.name,
            sqs.wait_time_seconds,
            sqs.batch_size,
        )
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

    def process(self, messages: Sequence[ReceivedMessage]) -> list[Outcome]:
        """Handle a batch in order and settle it; once stopping, the unstarted rest is released."""
        self.metrics.received.inc(len(messages))
        if self.heartbeat is not None:
            self.heartbeat.hold(messages)
        outcomes: list[Outcome] = []
        for index, message in enumerate(messages):
            if self.stopping:
                outcomes.extend(Released(m) for m in messages[index:])
                break
            self._handler_started = time.monotonic()
            try:
                outcomes.append(self.dispatcher.handle(message))
            finally:
                self._handler_started = None
        self.acknowledger.settle(outcomes)
        if self.heartbeat is not None:
            self.heartbeat.let_go([m.receipt_handle for m in messages])
        return outcomes

    def _read_queue_settings(self) -> None:
        """Take visibility timeout and maxReceiveCount from the queue itself, which rules."""
        try:
            attributes = self.queue.attributes("VisibilityTimeout", "RedrivePolicy")
        except SqsError as exc:
            log.warning("queue attributes unavailable (%s); using settings", exc)
            return
        self._visibility_timeout = int(
            attributes.get("VisibilityTimeout", self._visibility_timeout)
        )
        policy = attributes.get("RedrivePolicy")
        self._max_receive_count = int(json.loads(policy)["maxReceiveCount"]) if policy else None

    def _mark_receive(self) -> None:
        self._last_receive = time.monotonic()
        self.metrics.last_receive.set_to_current_time()

    def _backoff(self, failures: int) -> float:
        """Exponential backoff, capped, with jitter so many workers do not retry in step."""
        ceiling = min(self.settings.consumer.error_backoff_max_seconds, 0.25 * 2.0**failures)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto
