"""How a dead letter records why it died: one message attribute beside the original ones.

The body and every original attribute (its data type, a Binary value's bytes) stay as the
sender wrote them, so a redriven message is the same message. Messages that SQS itself
moved (after maxReceiveCount) carry no record.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, ValidationError

from shared.aws.entries import attribute_text
from shared.aws.limits import FIFO_SUFFIX, MAX_MESSAGE_ATTRIBUTES, is_fifo
from shared.messages.envelope import Envelope
from shared.messages.formats import NotReadableError, read_message

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from shared.aws import ReceivedMessage
    from shared.settings import SqsSettings

RECORD = "dlq_record"
"""The one attribute a dead letter gains: why it died, as JSON (`DeadLetterRecord`)."""
LEGACY_ATTRIBUTES = (
    "dlq_reason",
    "dlq_error",
    "dlq_source_queue",
    "dlq_receive_count",
    "dlq_failed_at",
)
"""How older consumers recorded it, five attributes; still read, never written."""
KEPT_FIRST = ("type", "correlation_id", "ExtendedPayloadSize", "SQSLargePayloadSize")
"""Attributes that keep their place when an original must give way to the record."""

MAX_ERROR_LENGTH = 1000
PREVIEW_CHARS = 200


def dead_letter_name(queue: str) -> str:
    """`orders` → `orders-dlq`; `orders.fifo` → `orders-dlq.fifo` (a FIFO queue's DLQ is FIFO)."""
    if is_fifo(queue):
        return queue.removesuffix(FIFO_SUFFIX) + "-dlq" + FIFO_SUFFIX
    return queue + "-dlq"


def dead_letter_queue_of(queue: str, sqs: SqsSettings) -> str:
    """Where bootstrap points a queue's redrive: the main queue keeps `SQS_DLQ_NAME`, any
    other queue gets `dead_letter_name(queue)`."""
    return sqs.dlq_name if queue == sqs.queue_name else dead_letter_name(queue)


class Reason(StrEnum):
    """Why a message was dead-lettered."""

    INVALID_BODY = "invalid_body"
    """A body that claims a format and breaks it (an envelope without a valid `type`, say):
    no retry can fix it."""
    PAYLOAD_MISSING = "payload_missing"
    """The body is in S3 (a large payload) and the object is gone."""
    INVALID_PAYLOAD = "invalid_payload"
    """The payload does not fit the handler's model."""
    NO_HANDLER = "no_handler"
    """No handler for the type and no default handler."""
    PERMANENT_ERROR = "permanent_error"
    """The handler raised PermanentError."""
    RETRIES_EXHAUSTED = "retries_exhausted"
    """The handler failed on the last receive the queue allows."""
    MOVED_BY_SQS = "moved_by_sqs"
    """SQS moved it after maxReceiveCount; no reason was recorded."""


class StoredAttribute(BaseModel):
    """A message attribute inside the record, as JSON: a Binary value in base64."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    data_type: str = Field(alias="DataType")
    string_value: str | None = Field(default=None, alias="StringValue")
    binary_value: Base64Bytes | None = Field(default=None, alias="BinaryValue")

    @classmethod
    def of(cls, value: MessageAttributeValueTypeDef) -> StoredAttribute:
        binary = value.get("BinaryValue")
        return cls(
            data_type=value["DataType"],
            string_value=value.get("StringValue") if binary is None else None,
            binary_value=bytes(binary) if isinstance(binary, bytes | bytearray) else None,
        )

    def to_sqs(self) -> MessageAttributeValueTypeDef:
        if self.binary_value is not None:
            return {"DataType": self.data_type, "BinaryValue": self.binary_value}
        return {"DataType": self.data_type, "StringValue": self.string_value or ""}


class DeadLetterRecord(BaseModel):
    """Why a message died, and any original attribute that had to make room for this record."""

    model_config = ConfigDict(frozen=True)

    reason: str
    error: str
    source_queue: str
    receive_count: int | None = None
    failed_at: datetime
    displaced: dict[str, StoredAttribute] = Field(default_factory=dict)
    """Originals moved in here (SQS allows ten attributes), put back by a redrive."""

    def to_attribute(self) -> MessageAttributeValueTypeDef:
        # ASCII-escaped: an error may hold characters SQS refuses in an attribute value.
        text = json.dumps(self.model_dump(mode="json", by_alias=True), ensure_ascii=True)
        return {"DataType": "String", "StringValue": text}

    @classmethod
    def of(cls, attributes: Mapping[str, MessageAttributeValueTypeDef]) -> DeadLetterRecord | None:
        """The record a dead letter carries (or its older five attributes); None if none."""
        value = attribute_text(attributes.get(RECORD))
        if value is not None:
            try:
                return cls.model_validate_json(value)
            except ValidationError:
                return None
        legacy = {name: attribute_text(attributes.get(name)) for name in LEGACY_ATTRIBUTES}
        reason, error, source, count, failed = legacy.values()
        if reason is None:
            return None
        return cls(
            reason=reason,
            error=error or "-",
            source_queue=source or "",
            receive_count=_int(count),
            failed_at=_timestamp(failed) or datetime.now(UTC),
        )


def restored(
    attributes: Mapping[str, MessageAttributeValueTypeDef],
) -> dict[str, MessageAttributeValueTypeDef]:
    """A dead letter's attributes as the message had them before it died: the record
    removed and what it displaced put back, every data type and Binary value as it was."""
    original = {
        name: value
        for name, value in attributes.items()
        if name != RECORD and name not in LEGACY_ATTRIBUTES
    }
    record = DeadLetterRecord.of(attributes)
    if record is not None:
        for name, stored in record.displaced.items():
            original.setdefault(name, stored.to_sqs())
    return original


def dead_letter_attributes(
    original: Mapping[str, MessageAttributeValueTypeDef],
    *,
    reason: Reason,
    error: str,
    source_queue: str,
    receive_count: int,
) -> dict[str, MessageAttributeValueTypeDef]:
    """The original attributes, types and values as they were, plus the record.

    SQS allows ten attributes and the record takes one. When all ten are in use, the last
    one gives way (in SQS's order, `type`, `correlation_id` and the large-payload size
    kept first): it is moved into the record, and a redrive puts it back.
    """
    before = restored(original)
    ordered = sorted(before, key=lambda name: name not in KEPT_FIRST)
    room = MAX_MESSAGE_ATTRIBUTES - 1
    record = DeadLetterRecord(
        reason=reason.value,
        error=(error or "-")[:MAX_ERROR_LENGTH],
        source_queue=source_queue,
        receive_count=receive_count,
        failed_at=datetime.now(UTC),
        displaced={name: StoredAttribute.of(before[name]) for name in ordered[room:]},
    )
    attributes = {name: before[name] for name in ordered[:room]}
    attributes[RECORD] = record.to_attribute()
    return attributes


def redrive_attributes(
    body: str, attributes: Mapping[str, MessageAttributeValueTypeDef]
) -> dict[str, MessageAttributeValueTypeDef]:
    """Attributes for a message sent back to its source queue: as it had them.

    A dead letter of an older consumer lost what did not fit beside its five attributes;
    for an envelope, those are rebuilt from the body.
    """
    original = restored(attributes)
    if any(name in attributes for name in LEGACY_ATTRIBUTES):
        try:
            rebuilt = Envelope.from_body(body).message_attributes()
        except ValidationError:
            rebuilt = {}
        for name, value in rebuilt.items():
            if len(original) < MAX_MESSAGE_ATTRIBUTES:
                original.setdefault(name, value)
    return original


class DeadLetter(BaseModel):
    """One dead letter as an operator wants to see it: what it is, why it died, when."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    envelope_id: str | None
    type: str | None
    format: str | None
    """How the body is written (`envelope`, `sns`, `json`, `text`, ...); None if unreadable."""
    correlation_id: str | None
    reason: Reason | str
    """A `Reason`, or the raw value when a newer consumer wrote one this code does not know."""
    error: str | None
    source_queue: str | None
    receive_count: int | None
    """Receives in the source queue before the consumer gave up; None if SQS moved it."""
    failed_at: datetime | None
    sent_at: datetime | None
    """When the message entered the dead-letter queue (SQS-moved: when it was first sent)."""
    body_preview: str
    attributes: dict[str, str]
    """The message's own attributes, the dead-letter record left out."""

    @classmethod
    def from_message(cls, message: ReceivedMessage) -> DeadLetter:
        record = DeadLetterRecord.of(message.attributes)
        envelope = _first_envelope(message)
        # An id made from this copy's MessageId names nothing: the copy got a new one.
        own = envelope is not None and envelope.id.split("#")[0] != message.message_id
        return cls(
            message_id=message.message_id,
            envelope_id=envelope.id if envelope and own else None,
            type=(envelope.type or None) if envelope else message.text_attribute("type"),
            format=envelope.origin.format if envelope else None,
            correlation_id=envelope.correlation_id if envelope and own else None,
            reason=_reason(record.reason if record else None),
            error=record.error if record else None,
            source_queue=record.source_queue if record else None,
            receive_count=record.receive_count if record else None,
            failed_at=record.failed_at if record else None,
            sent_at=message.sent_at,
            body_preview=_preview(message.body),
            attributes={
                name: _shown(value) for name, value in restored(message.attributes).items()
            },
        )


def _first_envelope(message: ReceivedMessage) -> Envelope | None:
    """What the consumer would have read, in any format (a large payload is not fetched)."""
    try:
        incoming = read_message(message)
    except NotReadableError:
        return None
    return incoming.envelopes[0] if incoming.envelopes else None


def _shown(value: MessageAttributeValueTypeDef) -> str:
    text = attribute_text(value)
    if text is not None:
        return text
    binary = value.get("BinaryValue")
    data = bytes(binary) if isinstance(binary, bytes | bytearray) else b""
    return "base64:" + base64.b64encode(data).decode()


def _reason(value: str | None) -> Reason | str:
    if value is None:
        return Reason.MOVED_BY_SQS
    try:
        return Reason(value)
    except ValueError:
        return value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _timestamp(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _preview(body: str) -> str:
    return body if len(body) <= PREVIEW_CHARS else body[: PREVIEW_CHARS - 1] + "…"
