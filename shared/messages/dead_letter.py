"""How a dead letter records why it died: message attributes added beside the original ones.

The body stays byte for byte what the producer sent, so a redriven message is the same
message. Messages that SQS itself moved (after maxReceiveCount) carry no such attributes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.aws.limits import FIFO_SUFFIX, MAX_MESSAGE_ATTRIBUTES, is_fifo
from shared.messages.envelope import RESERVED_ATTRIBUTES, Envelope

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from shared.aws import ReceivedMessage
    from shared.settings import SqsSettings

REASON = "dlq_reason"
ERROR = "dlq_error"
SOURCE_QUEUE = "dlq_source_queue"
RECEIVE_COUNT = "dlq_receive_count"
FAILED_AT = "dlq_failed_at"
ATTRIBUTES = (REASON, ERROR, SOURCE_QUEUE, RECEIVE_COUNT, FAILED_AT)
"""Five of SQS's ten attributes: the envelope's own two and three of the user's still fit."""

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
    """Not JSON, or not an envelope: no retry can fix it."""
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


def dead_letter_attributes(
    original: dict[str, str],
    *,
    reason: Reason,
    error: str,
    source_queue: str,
    receive_count: int,
) -> dict[str, MessageAttributeValueTypeDef]:
    """The original string attributes plus the dead-letter ones, ready for SendMessage.

    SQS allows ten attributes. The dead-letter five come first, then `type` and
    `correlation_id`, then as many others as fit; an envelope keeps them all in its body.
    """
    kept = {name: value for name, value in original.items() if name not in ATTRIBUTES}
    ordered = sorted(kept, key=lambda name: name not in RESERVED_ATTRIBUTES)
    room = MAX_MESSAGE_ATTRIBUTES - len(ATTRIBUTES)
    values = {name: kept[name] for name in ordered[:room]}
    values |= {
        REASON: reason.value,
        ERROR: (error or "-")[:MAX_ERROR_LENGTH],
        SOURCE_QUEUE: source_queue,
        FAILED_AT: datetime.now(UTC).isoformat(),
    }
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        name: {"DataType": "String", "StringValue": value} for name, value in values.items()
    }
    attributes[RECEIVE_COUNT] = {"DataType": "Number", "StringValue": str(receive_count)}
    return attributes


def redrive_attributes(
    body: str, attributes: dict[str, str]
) -> dict[str, MessageAttributeValueTypeDef]:
    """Attributes for a message sent back to its source queue: as the producer sent them.

    An envelope body rebuilds them completely; anything else keeps what survived, less the
    dead-letter record.
    """
    try:
        return Envelope.from_body(body).message_attributes()
    except ValidationError:
        return {
            name: {"DataType": "String", "StringValue": value}
            for name, value in attributes.items()
            if name not in ATTRIBUTES
        }


class DeadLetter(BaseModel):
    """One dead letter as an operator wants to see it: what it is, why it died, when."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    envelope_id: str | None
    type: str | None
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
        attrs = message.attributes
        envelope = _envelope(message.body)
        return cls(
            message_id=message.message_id,
            envelope_id=str(envelope.id) if envelope else None,
            type=envelope.type if envelope else None,
            correlation_id=envelope.correlation_id if envelope else None,
            reason=_reason(attrs.get(REASON)),
            error=attrs.get(ERROR),
            source_queue=attrs.get(SOURCE_QUEUE),
            receive_count=_int(attrs.get(RECEIVE_COUNT)),
            failed_at=_timestamp(attrs.get(FAILED_AT)),
            sent_at=_millis(message.sent_timestamp),
            body_preview=_preview(message.body),
            attributes={k: v for k, v in attrs.items() if k not in ATTRIBUTES},
        )


def _envelope(body: str) -> Envelope | None:
    try:
        return Envelope.from_body(body)
    except ValidationError:
        return None


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


def _millis(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value is not None else None


def _preview(body: str) -> str:
    return body if len(body) <= PREVIEW_CHARS else body[: PREVIEW_CHARS - 1] + "…"
