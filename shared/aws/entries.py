"""What goes into and comes out of SQS and SNS calls: messages to send, messages received,
and the per-entry results of batch calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        BatchResultErrorEntryTypeDef,
        MessageAttributeValueOutputTypeDef,
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
        name, data type and value (a Binary value's raw bytes)."""
        return len(self.body.encode()) + attributes_size(self.attributes)

    def to_fifo(self, group_id: str, deduplication_id: str) -> OutgoingMessage:
        return replace(self, group_id=group_id, deduplication_id=deduplication_id)


def attributes_size(attributes: Mapping[str, MessageAttributeValueTypeDef]) -> int:
    """What message attributes count against SQS's and SNS's size limit."""
    total = 0
    for name, value in attributes.items():
        total += len(name.encode()) + len(value["DataType"].encode())
        total += len(value.get("StringValue", "").encode())
        binary = value.get("BinaryValue")
        if isinstance(binary, bytes | bytearray):
            total += len(binary)
    return total


def attribute_text(value: MessageAttributeValueTypeDef | None) -> str | None:
    """A String or Number attribute's value (custom types such as `String.Id` too); None for
    Binary ones and absent ones."""
    if value is None or value["DataType"].startswith("Binary"):
        return None
    return value.get("StringValue")


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as received: the raw body (parsing it is the caller's business) and its receipt.

    `attributes` are the message attributes exactly as SQS returned them, data types and
    Binary values included, so a copy sent on (to a dead-letter queue, back by a redrive)
    is the same message.
    """

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, MessageAttributeValueTypeDef]
    sent_timestamp: int | None = None
    """SentTimestamp: epoch milliseconds when the message was sent to this queue."""
    group_id: str | None = None
    """MessageGroupId, on FIFO queues only."""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    trace_header: str | None = None
    """AWSTraceHeader: the X-Ray trace context SQS keeps for the message, when it has one."""

    @classmethod
    def from_sqs(cls, raw: MessageTypeDef) -> ReceivedMessage:
        system = dict(raw.get("Attributes", {}))
        user = {name: _attribute(value) for name, value in raw.get("MessageAttributes", {}).items()}
        sent = system.get("SentTimestamp")
        return cls(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            receive_count=int(system.get("ApproximateReceiveCount", "1")),
            attributes=user,
            sent_timestamp=int(sent) if sent else None,
            group_id=system.get("MessageGroupId"),
            trace_header=system.get("AWSTraceHeader"),
        )

    @property
    def sent_at(self) -> datetime | None:
        """When SQS received the message (SentTimestamp); None if SQS did not say."""
        if self.sent_timestamp is None:
            return None
        return datetime.fromtimestamp(self.sent_timestamp / 1000, UTC)

    def text_attribute(self, name: str) -> str | None:
        """The value of a String or Number attribute; None when absent or Binary."""
        return attribute_text(self.attributes.get(name))


def _attribute(value: MessageAttributeValueOutputTypeDef) -> MessageAttributeValueTypeDef:
    """An attribute as SendMessage takes it back: SQS's answer also carries empty list fields."""
    kept: MessageAttributeValueTypeDef = {"DataType": value["DataType"]}
    if "BinaryValue" in value:
        kept["BinaryValue"] = value["BinaryValue"]
    else:
        kept["StringValue"] = value.get("StringValue", "")
    return kept


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
