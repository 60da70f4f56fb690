"""Queues in memory that behave as SQS does where handlers can tell: visibility, receive
counts, redrive after maxReceiveCount, FIFO groups and deduplication, the batch size limit.
`consumer.testing` runs the real worker over them; time is virtual, so a retry due in
minutes comes at once."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.aws import (
    AwsRequestError,
    BatchSendResult,
    EntryFailure,
    OutgoingMessage,
    ReceivedMessage,
    SendResult,
)
from shared.aws.limits import MAX_BATCH_ENTRIES, is_fifo
from shared.aws.sqs import QueueAttributeName

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

MAX_MESSAGE_SIZE = 1_048_576
"""SQS's default MaximumMessageSize (1 MiB)."""


@dataclass
class _Stored:
    message_id: str
    body: str
    attributes: dict[str, MessageAttributeValueTypeDef]
    group_id: str | None
    sent_at: float
    """Wall-clock time of the send, for SentTimestamp."""
    visible_at: float
    receive_count: int = 0
    receipt_handle: str | None = None


@dataclass
class MemoryBroker:
    """Every queue of one test, by name, and their shared virtual clock (seconds)."""

    visibility_timeout: int = 30
    max_receive_count: int | None = 5
    """Queues other than dead-letter ones redrive after this many receives; None: never."""
    now: float = 0.0
    queues: dict[str, MemoryQueue] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def queue(self, name: str, *, dead_letter_queue: str | None = None) -> MemoryQueue:
        """The queue called `name`, made on first use; dead letters go to `dead_letter_queue`."""
        with self.lock:
            if name not in self.queues:
                self.queues[name] = MemoryQueue(self, name, dead_letter_queue)
            return self.queues[name]

    def advance(self) -> bool:
        """Move the clock to the next hidden message's return; False if none is hidden."""
        with self.lock:
            hidden = [
                m.visible_at
                for q in self.queues.values()
                for m in q.stored
                if m.visible_at > self.now
            ]
            if not hidden:
                return False
            self.now = min(hidden)
            return True


class MemoryQueue:
    """One in-memory queue; the calls and answers of `SqsQueue`, safe across threads."""

    service = "SQS"

    def __init__(self, broker: MemoryBroker, name: str, dead_letter_queue: str | None) -> None:
        self.broker = broker
        self.name = name
        self.dead_letter_queue = dead_letter_queue
        self.stored: list[_Stored] = []
        self._deduplicated: set[str] = set()
        self._handles = (f"{name}-receipt-{n}" for n in itertools.count())

    @property
    def fifo(self) -> bool:
        return is_fifo(self.name)

    def sibling(self, queue_name: str) -> MemoryQueue:
        return self.broker.queue(queue_name)

    def attributes(self, *names: QueueAttributeName) -> dict[str, str]:
        values = {
            "QueueArn": f"arn:aws:sqs:memory:000000000000:{self.name}",
            "VisibilityTimeout": str(self.broker.visibility_timeout),
            "MaximumMessageSize": str(MAX_MESSAGE_SIZE),
        }
        limit = self.broker.max_receive_count
        if self.dead_letter_queue and limit is not None:
            target = f"arn:aws:sqs:memory:000000000000:{self.dead_letter_queue}"
            policy = {"deadLetterTargetArn": target, "maxReceiveCount": limit}
            values["RedrivePolicy"] = json.dumps(policy)
        return {k: v for k, v in values.items() if not names or k in names or "All" in names}

    def max_message_size(self) -> int:
        return MAX_MESSAGE_SIZE

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        if len(messages) > MAX_BATCH_ENTRIES:
            raise ValueError(f"at most {MAX_BATCH_ENTRIES} entries per batch call")
        total = sum(message.size for message in messages)
        if total > MAX_MESSAGE_SIZE:  # SQS refuses the whole call, as here
            raise AwsRequestError(
                "BatchRequestTooLong", f"{total} bytes; at most {MAX_MESSAGE_SIZE}", "SQS"
            )
        sent = []
        with self.broker.lock:
            for message in messages:
                message_id = str(uuid.uuid4())
                sent.append(SendResult(message.id, message_id))
                if message.deduplication_id is not None:
                    if message.deduplication_id in self._deduplicated:
                        continue  # accepted, and dropped: as a FIFO queue does
                    self._deduplicated.add(message.deduplication_id)
                attributes = dict(message.attributes)
                visible_at = self.broker.now + message.delay_seconds
                self.stored.append(
                    _Stored(
                        message_id,
                        message.body,
                        attributes,
                        message.group_id,
                        time.time(),
                        visible_at,
                    )
                )
        return BatchSendResult(sent, [])

    def receive(
        self, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        """Visible messages, oldest first; on a FIFO queue none of a group with one hidden."""
        hide = self.broker.visibility_timeout if visibility_timeout is None else visibility_timeout
        received: list[ReceivedMessage] = []
        with self.broker.lock:
            now = self.broker.now
            blocked = {m.group_id for m in self.stored if self.fifo and m.visible_at > now}
            for stored in list(self.stored):
                if len(received) == max_messages:
                    break
                if stored.visible_at > now or stored.group_id in blocked:
                    continue
                if self._redrive(stored):
                    continue
                stored.receive_count += 1
                stored.receipt_handle = next(self._handles)
                stored.visible_at = now + hide
                received.append(self._as_received(stored))
        return received

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[EntryFailure]:
        failures = []
        with self.broker.lock:
            for index, handle in enumerate(receipt_handles):
                stored = self._by_handle(handle)
                if stored is None:
                    failures.append(_invalid(index))
                    continue
                self.stored.remove(stored)
        return failures

    def change_visibility(self, entries: Sequence[tuple[str, int]]) -> list[EntryFailure]:
        failures = []
        with self.broker.lock:
            for index, (handle, seconds) in enumerate(entries):
                stored = self._by_handle(handle)
                if stored is None:
                    failures.append(_invalid(index))
                else:
                    stored.visible_at = self.broker.now + seconds
        return failures

    def received(self) -> list[ReceivedMessage]:
        """What the queue holds now, as a receive would give it (no receive is counted)."""
        with self.broker.lock:
            return [self._as_received(stored) for stored in self.stored]

    def _redrive(self, stored: _Stored) -> bool:
        """SQS moves a message received maxReceiveCount times to the dead-letter queue."""
        limit = self.broker.max_receive_count
        if self.dead_letter_queue is None or limit is None or stored.receive_count < limit:
            return False
        self.stored.remove(stored)
        dlq = self.broker.queue(self.dead_letter_queue)
        stored.visible_at, stored.receive_count = self.broker.now, 0
        dlq.stored.append(stored)
        return True

    def _by_handle(self, handle: str) -> _Stored | None:
        return next((s for s in self.stored if s.receipt_handle == handle), None)

    def _as_received(self, stored: _Stored) -> ReceivedMessage:
        return ReceivedMessage(
            message_id=stored.message_id,
            receipt_handle=stored.receipt_handle or "",
            body=stored.body,
            receive_count=stored.receive_count,
            attributes=dict(stored.attributes),
            sent_timestamp=int(stored.sent_at * 1000),
            group_id=stored.group_id,
        )


def _invalid(index: int) -> EntryFailure:
    return EntryFailure(str(index), "ReceiptHandleIsInvalid", "no such receipt handle", True)
