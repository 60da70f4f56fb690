"""The long-polling loop: receive, run handlers concurrently, settle every outcome with SQS.

A message is deleted only after its handler succeeded. A failed one is made visible again
after a backoff; one that retrying cannot help is moved to the dead-letter queue with its
reason. The worker never receives more messages than it has free handler slots for (plus
an optional prefetch), so none sit invisible and idle. Nothing here lets one bad message,
one failed call or one failing handler stop the loop; SIGTERM stops it gracefully.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from functools import partial

from consumer.acknowledger import Acknowledger
from consumer.chores import Chores
from consumer.dispatch import Dispatcher, WrittenOff
from consumer.handler_threads import HandlerThreads
from consumer.heartbeat import Heartbeat
from consumer.idempotency import IdempotencyStore, MemoryStore
from consumer.long_poll import LongPoll
from consumer.metrics import Metrics
from consumer.outcome import Abandoned, Outcome, Released, Retry, named
from consumer.queue import Queue
from consumer.queue_config import QueueConfig
from consumer.registry import HandlerRegistry
from consumer.retry import Backoff
from consumer.shutdown import Shutdown
from consumer.slots import Slots
from consumer.status_recorder import EventSink, StatusRecorder
from consumer.stored_bodies import StoredBodies
from consumer.watchdog import Watchdog
from shared import tracing
from shared.aws import AwsError, ReceivedMessage
from shared.aws.backoff import error_backoff
from shared.messages.large_payload import LargePayloads
from shared.settings import Settings

log = logging.getLogger(__name__)

SHORT_POLL_PAUSE_SECONDS = 0.05
"""With short polling (SQS_WAIT_TIME_SECONDS=0) an empty receive returns at once: pause
briefly rather than spin on SQS and starve the threads settling what was handled."""


class Worker:
    """Polls one queue until stopped; `run(until_empty=True)` drains it and returns (tests).

    The queue's own attributes (`QueueConfig`) are read once, here, unless given.
    """

    def __init__(
        self,
        queue: Queue,
        registry: HandlerRegistry,
        settings: Settings,
        metrics: Metrics | None = None,
        store: IdempotencyStore | None = None,
        *,
        events: EventSink | None = None,
        config: QueueConfig | None = None,
        payloads: LargePayloads | None = None,
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.config = config or QueueConfig.read(queue, settings)
        self.metrics = metrics or Metrics()
        consumer = settings.consumer
        self.shutdown = Shutdown(consumer.shutdown_timeout_seconds)
        self._last_receive = time.monotonic()
        self._running = False
        self._polls: list[LongPoll] = []
        """This run's pollers' receives, so a stop can wait briefly for an abandoned one."""
        self.slots = Slots(consumer.concurrency + consumer.prefetch)
        status = StatusRecorder(events, self.config.name)
        self.bodies = StoredBodies(
            (lambda: payloads) if payloads else partial(LargePayloads.from_settings, settings),
            delete=settings.sqs.large_payload_delete,
        )
        self.handler_threads = HandlerThreads(consumer.concurrency)
        self.watchdog = Watchdog(self.shutdown, consumer.handler_timeout_seconds)
        self._group_rest: dict[str, Sequence[ReceivedMessage]] = {}
        """For each FIFO message being handled, the messages of its group after it."""
        self.dispatcher = Dispatcher(
            registry,
            self.config,
            consumer,
            self.metrics,
            store if store is not None else MemoryStore(),
            status,
            self.bodies,
            self.handler_threads,
            self.watchdog,
            self._abandoned,
        )
        self.heartbeat = Heartbeat(
            queue,
            self.metrics,
            visibility_timeout=self.config.visibility_timeout,
            after_fraction=consumer.heartbeat_after,
            max_hold_seconds=consumer.handler_timeout_seconds,
        )
        self.acknowledger = Acknowledger(
            queue,
            queue.sibling(self.config.dead_letter_queue),
            self.metrics,
            Backoff(consumer.retry_base_seconds, consumer.retry_max_seconds),
            window=consumer.ack_window_ms / 1000,
            on_settled=self._settled,
            on_dead_lettered=status.dead_lettered,
            on_acknowledged=self.bodies.acknowledged,
        )
        self.chores = Chores(self.heartbeat, self.acknowledger, self.watchdog)
        """Stopped in reverse: handler calls are settled first, then their outcomes with
        SQS while their messages are still held."""

    def stop(self) -> None:
        """Stop receiving; running handlers get `shutdown_timeout_seconds` to finish."""
        self.shutdown.request()

    @property
    def stopping(self) -> bool:
        return self.shutdown.requested

    def is_healthy(self) -> bool:
        """False once no receive has completed for `stale_after_seconds`, unless handlers are
        running within their time limit: a busy worker is not a stuck one."""
        consumer = self.settings.consumer
        if not self._running:
            return False
        quiet = time.monotonic() - self._last_receive
        if quiet < consumer.stale_after_seconds:
            return True
        return self.slots.busy > 0 and quiet < consumer.handler_timeout_seconds

    def run(self, *, max_batches: int | None = None, until_empty: bool = False) -> None:
        """Poll until stopped, until `max_batches` receives, or until the queue is drained.

        Every message received is settled before this returns.
        """
        self._running = True
        self._polls = []
        self._last_receive = time.monotonic()
        self.chores.start()
        extra = [
            threading.Thread(target=self._loop, args=(None, False), name=f"poller-{n}")
            for n in range(1, self.settings.consumer.pollers)
        ]
        try:
            for poller in extra:
                poller.start()
            self._loop(max_batches, until_empty)
        finally:
            if extra:
                self.stop()  # the first poller is done: so are the others
                for poller in extra:
                    poller.join()
            self.handler_threads.close()  # every message handled, or written off
            for poll in self._polls:
                poll.finish()
            self.chores.stop()
            self._running = False
        log.info("stopped polling %s", self.queue.name)

    def _loop(self, max_batches: int | None, until_empty: bool) -> None:
        sqs = self.settings.sqs
        failures = 0
        batches = 0
        log.info(
            "polling %s (wait %ss, batch %s, %d handlers)",
            self.queue.name,
            sqs.wait_time_seconds,
            sqs.batch_size,
            self.settings.consumer.concurrency,
        )
        poll = LongPoll(
            self.queue,
            self.shutdown,
            f"receive-{threading.current_thread().name}",
            on_late=self._release_late,
        )
        self._polls.append(poll)
        while not self.stopping and (max_batches is None or batches < max_batches):
            free = self.slots.wait_for_free(timeout=0.5)
            if free == 0 or self.stopping:
                continue
            started_ns = time.time_ns()
            try:
                messages = poll.receive(min(sqs.batch_size, free), sqs.wait_time_seconds)
            except AwsError as exc:
                failures += 1
                self.metrics.receive_errors.inc()
                delay = error_backoff(failures, self.settings.consumer.error_backoff_max_seconds)
                log.warning("receive failed (%s); retrying in %.1fs", exc, delay)
                self.shutdown.wait(delay)
                continue
            if messages is None:
                break  # stopped during the poll: it is left to finish without us
            failures = 0
            batches += 1
            self._mark_receive()
            if messages:
                if tracing.recording():
                    parents = [tracing.message_parent(m) for m in messages]
                    tracing.record_receive(self.queue.name, parents, started_ns)
                self.dispatch(messages)
            elif until_empty and self.heartbeat.held == 0:
                break  # nothing running and nothing waiting to be settled
            elif sqs.wait_time_seconds == 0:
                self.shutdown.wait(SHORT_POLL_PAUSE_SECONDS)  # no long poll to wait in

    def dispatch(self, messages: Sequence[ReceivedMessage]) -> None:
        """Queue each message for a handler thread; what arrives after a stop goes straight
        back.

        On a FIFO queue each message group is one job, handled in order.
        """
        self.metrics.received.inc(len(messages))
        ages = self.metrics.message_age.labels(self.queue.name)
        now = time.time()
        for message in messages:
            if message.sent_timestamp is not None:
                ages.observe(max(0.0, now - message.sent_timestamp / 1000))
        self.heartbeat.hold(messages)
        self.slots.take(len(messages))
        if self.config.fifo:
            for group in by_group(messages):
                self.handler_threads.submit(partial(self._handle_group, group))
            return
        for message in messages:
            self.handler_threads.submit(partial(self._handle, message))

    def _release_late(self, messages: Sequence[ReceivedMessage]) -> None:
        """What a poll abandoned at the stop brought back: straight back to the queue."""
        self.metrics.received.inc(len(messages))
        for message in messages:
            self.acknowledger.add(Released(message))

    def _handle_group(self, messages: Sequence[ReceivedMessage]) -> None:
        """One group's messages in order; after a failure the rest go back unprocessed.

        The failed message stays in flight until its retry, and SQS delivers nothing more
        from a group while one of its messages is in flight, so order holds across
        consumers. A dead-lettered message has left the queue: the group goes on.
        """
        for index, message in enumerate(messages):
            self._group_rest[message.receipt_handle] = messages[index + 1 :]
            outcome = self._handle(message)
            rest = self._group_rest.pop(message.receipt_handle, ())
            if outcome is None or isinstance(outcome, Retry | Abandoned):
                self._release(rest)
                return

    def _handle(self, message: ReceivedMessage) -> Outcome | None:
        """Run one message's handler; its slot is free again as soon as the handler returns.

        Settling the outcome with SQS (a batched delete, a visibility change) happens in the
        background: holding the slot through that round trip would make the next receive
        ask for fewer messages than the pool can run.
        """
        outcome: Outcome | None
        try:
            outcome = Released(message) if self.stopping else self.dispatcher.handle(message)
            self.acknowledger.add(outcome)
        except WrittenOff:
            raise  # `_abandoned` has settled it and given its slot back
        except Exception:  # a bug here must not leak the slot or kill the thread
            log.exception("handling %s failed", named(message))
            self._settled([message])
            outcome = None
        self.slots.give()
        return outcome

    def _abandoned(self, outcome: Abandoned) -> None:
        """A plain handler overran and its thread is written off: settle its message here,
        on the watchdog's thread, and the rest of its FIFO group with it."""
        self.acknowledger.add(outcome)
        self.slots.give()
        self._release(self._group_rest.pop(outcome.message.receipt_handle, ()))

    def _release(self, messages: Sequence[ReceivedMessage]) -> None:
        for message in messages:
            self.acknowledger.add(Released(message))
            self.slots.give()

    def _settled(self, messages: Sequence[ReceivedMessage]) -> None:
        self.heartbeat.let_go([m.receipt_handle for m in messages])

    def _mark_receive(self) -> None:
        self._last_receive = time.monotonic()
        self.metrics.last_receive.set_to_current_time()


def by_group(messages: Sequence[ReceivedMessage]) -> list[list[ReceivedMessage]]:
    """Messages per FIFO group, each group in the order SQS delivered them."""
    groups: dict[str | None, list[ReceivedMessage]] = {}
    for message in messages:
        groups.setdefault(message.group_id, []).append(message)
    return list(groups.values())
