"""What goes into and comes out of SQS and SNS calls: messages to send, messages received,
and the per-entry results of batch calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        BatchResultErrorEntryTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
    )


@dataclass(frozen=True)
class SendResult:
    """Where a message went: the entry's own id and the MessageId SQS or SNS assigned."""

    entry_id: str
    message_id: str


@dataclass(frozen=True)
class EntryFailure:
    """One entry of a batch call that the service did not carry out."""

    entry_id: str
    code: str
    message: str
    sender_fault: bool


@dataclass(frozen=True)
class BatchSendResult:
    sent: list[SendResult] = field(default_factory=list)
    failed: list[EntryFailure] = field(default_factory=list)


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to send as it is: entry id, body and attributes.

    `group_id` and `deduplication_id` are for FIFO destinations only.
    """

    id: str
    body: str
    attributes: dict[str, MessageAttributeValueTypeDef] = field(default_factory=dict)
    delay_seconds: int = 0
    group_id: str | None = None
    """FIFO: messages of one group are delivered in order, one group member at a time."""
    deduplication_id: str | None = None
    """FIFO: a second send with this id within five minutes is accepted but dropped."""

    @property
    def size(self) -> int:
        """Bytes SQS and SNS count against their limit: the body plus every attribute's
        name, data type and value."""
        return len(self.body.encode()) + sum(
            len(name.encode())
            + len(value["DataType"].encode())
            + len(value.get("StringValue", "").encode())
            for name, value in self.attributes.items()
        )

    def to_fifo(self, group_id: str, deduplication_id: str) -> OutgoingMessage:
        return replace(self, group_id=group_id, deduplication_id=deduplication_id)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as received: the raw body (parsing it is the caller's business) and its receipt."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, str]
    sent_timestamp: int | None = None
    """SentTimestamp: epoch milliseconds when the message was sent to this queue."""
    group_id: str | None = None
    """MessageGroupId, on FIFO queues only."""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_sqs(cls, raw: MessageTypeDef) -> ReceivedMessage:
        system = dict(raw.get("Attributes", {}))
        user = {
            name: value.get("StringValue", "")
            for name, value in raw.get("MessageAttributes", {}).items()
        }
        sent = system.get("SentTimestamp")
        return cls(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            receive_count=int(system.get("ApproximateReceiveCount", "1")),
            attributes=user,
            sent_timestamp=int(sent) if sent else None,
            group_id=system.get("MessageGroupId"),
        )


@dataclass(frozen=True)
class QueueDepth:
    """SQS's approximate counts: `visible` can be received now, `in_flight` is received and
    not yet deleted, `delayed` waits for its DelaySeconds."""

    visible: int
    in_flight: int
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def entry_failures(raw: Sequence[BatchResultErrorEntryTypeDef]) -> list[EntryFailure]:
    """A batch answer's `Failed` list; SQS's and SNS's have the same shape."""
    return [
        EntryFailure(
            entry_id=entry["Id"],
            code=entry.get("Code", "Unknown"),
            message=entry.get("Message", ""),
            sender_fault=entry.get("SenderFault", False),
        )
        for entry in raw
    ]
