"""Settling outcomes with SQS in as few calls as possible, and checking each one.

Outcomes from concurrent handlers are collected for a short window (or until ten are
waiting) and settled together, so deletes and visibility changes share batch calls.

Batch calls report failed entries one by one; those are retried and whatever still fails is
logged and counted, never assumed done. A dead letter is deleted from the source queue only
after the dead-letter queue has accepted it: send, then delete, never the other way round.
Dead letters go in batches kept within the DLQ's size limit, however large each is, so one
refused batch never holds back copies SQS would have taken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from typing_extensions import override

from consumer.chores import Chore
from consumer.metrics import Metrics
from consumer.outcome import Abandoned, Dead, Done, Outcome, Released, Retry, named
from consumer.queue import Queue
from consumer.retry import Backoff
from shared.aws import (
    AwsError,
    AwsRequestError,
    EntryFailure,
    OutgoingMessage,
    ReceivedMessage,
    SendResult,
)
from shared.aws.batching import send_all, settle_entries
from shared.aws.limits import MAX_BATCH_ENTRIES, SQS_MAX_BATCH_BYTES
from shared.aws.sqs import SERVICE, carried_over
from shared.messages.dead_letter import dead_letter_attributes

log = logging.getLogger(__name__)


DELETE_ATTEMPTS = 6
"""About six seconds of retries: a delete that outlives a short outage spares a redelivery."""


class Acknowledger(Chore):
    """Deletes, delays, releases and dead-letters messages after their handlers ran.

    As a chore it settles what gathered every `window` seconds, or as soon as ten outcomes
    wait; without a window, `add` settles at once on the caller's thread.
    """

    name = "acknowledger"

    def __init__(
        self,
        queue: Queue,
        dlq: Queue,
        metrics: Metrics,
        backoff: Backoff,
        *,
        window: float = 0.0,
        on_settled: Callable[[Sequence[ReceivedMessage]], None] = lambda messages: None,
        on_dead_lettered: Callable[[Sequence[Dead], Sequence[Dead]], None] = (
            lambda moved, refused: None
        ),
        on_acknowledged: Callable[[Sequence[ReceivedMessage]], None] = lambda messages: None,
    ) -> None:
        """`on_dead_lettered` hears, after each dead-letter send, which copies the DLQ took
        and which it did not; `on_acknowledged`, which handled messages SQS has deleted."""
        super().__init__()
        self.queue = queue
        self.dlq = dlq
        self.metrics = metrics
        self.backoff = backoff
        self.window = window
        self.period = window
        self.on_settled = on_settled
        self.on_dead_lettered = on_dead_lettered
        self.on_acknowledged = on_acknowledged
        self._batch_bytes: int | None = None
        self._pending: list[Outcome] = []
        self._lock = threading.Lock()

    def add(self, outcome: Outcome) -> None:
        if self.window <= 0:
            self.settle([outcome])
            return
        with self._lock:
            self._pending.append(outcome)
            if len(self._pending) >= MAX_BATCH_ENTRIES:
                self.wake.set()

    @override
    def run(self) -> None:
        """Settle every outcome gathered so far."""
        with self._lock:
            pending, self._pending = self._pending, []
            self.wake.clear()
        if pending:
            self.settle(pending)

    @override
    def finish(self) -> None:
        self.run()

    def settle(self, outcomes: Sequence[Outcome]) -> None:
        dead = [o for o in outcomes if isinstance(o, Dead)]
        not_moved = self._dead_letter(dead)
        done = [o.message for o in outcomes if isinstance(o, Done)]
        undeleted = self._delete(done + [d.message for d in dead if d not in not_moved])
        acknowledged = [m for m in done if m not in undeleted]
        visibility = [(o.message, o.delay) for o in outcomes if isinstance(o, Retry)]
        # A dead letter the DLQ refused is retried later rather than spinning now.
        visibility += [(d.message, self.backoff.delay(d.message.receive_count)) for d in not_moved]
        released = [(o.message, 0) for o in outcomes if isinstance(o, Released)]
        self._change_visibility(visibility + released)
        self.metrics.retried.inc(sum(isinstance(o, Retry) for o in outcomes))
        self.metrics.released.inc(len(released))
        abandoned = sum(isinstance(o, Abandoned) for o in outcomes)
        if released or abandoned:
            log.info("released %d unstarted messages; %d abandoned", len(released), abandoned)
        self.on_settled([o.message for o in outcomes])
        if acknowledged:
            self.on_acknowledged(acknowledged)

    def _dead_letter(self, dead: Sequence[Dead]) -> list[Dead]:
        """Send to the DLQ with the reason; returns those the DLQ did not accept.

        The producer's send path: batches kept within the DLQ's size limit in all, and a
        batch refused as a whole sent again one copy a call, so every copy SQS takes is
        dead-lettered on the receive that decided it.
        """
        if not dead:
            return []
        copies = [
            carried_over(
                OutgoingMessage(
                    str(index),
                    d.message.body,
                    dead_letter_attributes(
                        d.message.attributes,
                        reason=d.reason,
                        error=d.error,
                        source_queue=self.queue.name,
                        receive_count=d.message.receive_count,
                    ),
                ),
                d.message,
                fifo=self.dlq.fifo,
            )
            for index, d in enumerate(dead)
        ]
        results = send_all(
            self.dlq.send_batch, copies, service=SERVICE, max_batch_bytes=self._dlq_batch_bytes()
        )
        refused: list[Dead] = []
        for index, d in enumerate(dead):
            result = results.get(str(index))
            if isinstance(result, SendResult):
                self.metrics.dead_lettered.labels(d.reason.value).inc()
                continue
            refused.append(d)
            log.warning(
                "%s not taken by %s (%s); it stays in %s for a later receive",
                named(d.message, d.envelope),
                self.dlq.name,
                result or "no answer",
                self.queue.name,
            )
        self.metrics.ack_failures.inc(len(refused))
        self.on_dead_lettered([d for d in dead if d not in refused], refused)
        return refused

    def _dlq_batch_bytes(self) -> int:
        """The DLQ's MaximumMessageSize, read once; SQS's batch limit when it cannot be read
        (the consumer may lack GetQueueAttributes on the DLQ: a refusal is kept, an outage
        is asked about again next time)."""
        if self._batch_bytes is None:
            try:
                self._batch_bytes = min(SQS_MAX_BATCH_BYTES, self.dlq.max_message_size())
            except AwsRequestError as exc:
                log.warning(
                    "size limit of %s unreadable (%s); its batches keep to SQS's own",
                    self.dlq.name,
                    exc,
                )
                self._batch_bytes = SQS_MAX_BATCH_BYTES
            except AwsError:
                return SQS_MAX_BATCH_BYTES
        return self._batch_bytes

    def _delete(self, messages: Sequence[ReceivedMessage]) -> list[ReceivedMessage]:
        """Delete, retrying failed entries; returns the messages that are still there."""

        def delete(chunk: Sequence[ReceivedMessage]) -> list[EntryFailure]:
            return self.queue.delete_batch([m.receipt_handle for m in chunk])

        failed = settle_entries(delete, messages, "delete", attempts=DELETE_ATTEMPTS)
        self.metrics.deleted.inc(len(messages) - len(failed))
        self.metrics.ack_failures.inc(len(failed))
        for message in failed:
            log.error("%s not deleted; it will be delivered again", named(message))
        return failed

    def _change_visibility(self, entries: Sequence[tuple[ReceivedMessage, int]]) -> None:
        def change(chunk: Sequence[tuple[ReceivedMessage, int]]) -> list[EntryFailure]:
            return self.queue.change_visibility([(m.receipt_handle, t) for m, t in chunk])

        failed = settle_entries(change, entries, "visibility change")
        self.metrics.ack_failures.inc(len(failed))
