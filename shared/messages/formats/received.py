"""What every format reader knows of the message besides its body, and the envelope it
builds for a foreign message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.aws.entries import attribute_text
from shared.messages.envelope import (
    CORRELATION_ATTRIBUTE,
    LARGE_PAYLOAD_ATTRIBUTES,
    TYPE_ATTRIBUTE,
    AwsEvent,
    Envelope,
    Format,
    Origin,
    SnsNotice,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

DEAD_LETTER_ATTRIBUTE_PREFIX = "dlq_"
"""The dead-letter record's attributes (see `dead_letter`): never a message's own."""


class NotReadableError(ValueError):
    """The body claims a format and breaks it: no retry can fix it (`invalid_body`)."""


@dataclass(frozen=True)
class Received:
    """A body to read and what came with it."""

    message_id: str
    """The id retries keep: SQS's MessageId, or the SNS notification's once unwrapped."""
    body: str
    attributes: Mapping[str, MessageAttributeValueTypeDef]
    sent_at: datetime | None
    sns: SnsNotice | None = None
    stored_in: str | None = None
    sqs_message_id: str = ""

    def inner(self, body: str, notice: SnsNotice, attributes: Mapping[str, Any]) -> Received:
        """What an SNS notification carries, to be read again."""
        return replace(
            self,
            message_id=notice.message_id,
            body=body,
            attributes=attributes,
            sent_at=notice.timestamp or self.sent_at,
            sns=notice,
        )

    def origin(self, format: Format, event: AwsEvent | None = None) -> Origin:
        return Origin(
            format=format,
            message_id=self.sqs_message_id,
            body=self.body,
            attributes=self.attributes,
            sns=self.sns,
            event=event,
            stored_in=self.stored_in,
        )

    def text(self, name: str) -> str | None:
        return attribute_text(self.attributes.get(name))

    def foreign(
        self,
        format: Format,
        *,
        payload: dict[str, Any],
        message_type: str | None = None,
        envelope_id: str | None = None,
        created_at: datetime | None = None,
        event: AwsEvent | None = None,
    ) -> Envelope:
        """The envelope of a message someone else wrote.

        Its type is the given one, else the `type` attribute, else "" (the default
        handler); its id, the given one, else the message id, so it is the same on every
        receive; its correlation id, the `correlation_id` attribute, else the id.
        """
        chosen_type = message_type if message_type is not None else self.text(TYPE_ATTRIBUTE)
        chosen_id = envelope_id or self.message_id
        kept = {
            name: text
            for name in self.attributes
            if name not in (TYPE_ATTRIBUTE, CORRELATION_ATTRIBUTE)
            and name not in LARGE_PAYLOAD_ATTRIBUTES
            and not name.startswith(DEAD_LETTER_ATTRIBUTE_PREFIX)
            and (text := self.text(name)) is not None
        }
        envelope = Envelope.model_construct(
            id=chosen_id,
            type=chosen_type or "",
            payload=payload,
            created_at=created_at or self.sent_at or datetime.now(UTC),
            correlation_id=self.text(CORRELATION_ATTRIBUTE) or chosen_id,
            attributes=kept,
        )
        return envelope.received(self.origin(format, event))


def timestamp(value: object) -> datetime | None:
    """An ISO 8601 time as AWS writes them (`2024-05-01T12:00:00.123Z`); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
