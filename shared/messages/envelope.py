"""The envelope: what our producer sends as the SQS body, and how it maps to SQS attributes.

The envelope carries its own id and correlation id so that a message can be traced and
deduplicated across producer, queue, retries and dead-letter queue, whatever MessageId
SQS assigns on each hop.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from shared.aws import OutgoingMessage
from shared.aws.limits import MAX_MESSAGE_ATTRIBUTES
from shared.messages.json_text import (
    HEADER_SAFE_PATTERN,
    SQS_ALLOWED_PATTERN,
    forbidden_character,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

MessageType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"),
]
"""A routing key such as `order.created`: what the consumer dispatches on."""

ATTRIBUTE_NAME_PATTERN = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
"""An SQS message attribute name, by SQS's own rules: letters, digits, `_`, `-`, `.`,
no leading, trailing or doubled `.`."""

TYPE_ATTRIBUTE = "type"
CORRELATION_ATTRIBUTE = "correlation_id"
RESERVED_ATTRIBUTES = frozenset({TYPE_ATTRIBUTE, CORRELATION_ATTRIBUTE})
MAX_USER_ATTRIBUTES = MAX_MESSAGE_ATTRIBUTES - len(RESERVED_ATTRIBUTES)
"""SQS allows ten message attributes; the envelope uses two of them."""

ATTRIBUTES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_USER_ATTRIBUTES,
    "propertyNames": {
        "minLength": 1,
        "maxLength": 256,
        # What _check_attributes refuses, said as a pattern so clients see it in the schema.
        "pattern": r"^(?![Aa][Ww][Ss]\.|[Aa][Mm][Aa][Zz][Oo][Nn]\.)"
        r"(?!(?:type|correlation_id)$)[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
    },
    "additionalProperties": {
        "type": "string",
        "minLength": 1,
        "maxLength": 4096,
        "pattern": SQS_ALLOWED_PATTERN,
    },
}
"""The attributes' JSON Schema: exactly what validation accepts."""

AttributeName = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=ATTRIBUTE_NAME_PATTERN)
]


def _sqs_carries(value: str) -> str:
    problem = forbidden_character(value)
    if problem:
        raise ValueError(f"{problem} is not allowed: SQS refuses it in attribute values")
    return value


def _header_safe(value: str) -> str:
    found = _NOT_HEADER_SAFE.search(value)
    if found:
        raise ValueError(
            f"character U+{ord(found.group()):04X} at position {found.start()} is not allowed: "
            "only printable ASCII, since the id is sent back as a header and logged"
        )
    return value


_NOT_HEADER_SAFE = re.compile(r"[^\x20-\x7e]")


AttributeValue = Annotated[
    str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_sqs_carries)
]

CorrelationId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    AfterValidator(_header_safe),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": 256, "pattern": HEADER_SAFE_PATTERN}
    ),
]
"""Ties related messages together; printable ASCII, since it is logged and sent as a header."""


def _at_most_allowed(value: object) -> object:
    """Count before checking each name, so a body of 100,000 names costs one error."""
    if isinstance(value, dict) and len(value) > MAX_USER_ATTRIBUTES:
        raise ValueError(
            f"at most {MAX_USER_ATTRIBUTES} attributes (SQS allows 10 in all), got {len(value)}"
        )
    return value


def _check_attributes(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if name.lower().startswith(("aws.", "amazon.")):
            raise ValueError(f"attribute name {name!r}: the AWS. and Amazon. prefixes are SQS's")
    reserved = RESERVED_ATTRIBUTES.intersection(value)
    if reserved:
        raise ValueError(f"attribute names reserved by the envelope: {sorted(reserved)}")
    return value


MessageAttributes = Annotated[
    dict[AttributeName, AttributeValue],
    BeforeValidator(_at_most_allowed),
    AfterValidator(_check_attributes),
    WithJsonSchema(ATTRIBUTES_SCHEMA),
]
"""User attributes carried as SQS message attributes, for routing without parsing the body."""


def _new_correlation_id() -> str:
    return str(uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One message as stored in SQS: routing type, JSON payload and tracing fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: UUID = Field(
        default_factory=uuid4,
        description="Ours, stable across retries, redrives and the dead-letter queue; "
        "the idempotency key. A new one when absent.",
    )
    type: MessageType = Field(description="The routing key the consumer dispatches on.")
    payload: dict[str, Any] = Field(description="Any JSON object: what the handler gets.")
    created_at: datetime = Field(
        default_factory=_now,
        description="When the message was made (ISO 8601; without a zone, UTC).",
    )
    correlation_id: CorrelationId = Field(
        default_factory=_new_correlation_id,
        description="Ties related messages together; a new UUID when absent.",
    )
    attributes: MessageAttributes = Field(
        default_factory=dict,
        description="String attributes, also sent as SQS message attributes (not `type` or "
        "`correlation_id`, no `AWS.` or `Amazon.` prefix).",
    )

    @field_validator("created_at")
    @classmethod
    def _utc_when_naive(cls, value: datetime) -> datetime:
        """A time without a zone is taken as UTC, so latencies can be computed against it."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def to_body(self) -> str:
        """The SQS message body: the envelope as compact JSON."""
        return self.model_dump_json()

    @classmethod
    def from_body(cls, body: str) -> Envelope:
        """Parse an SQS body; raises pydantic.ValidationError for anything but an envelope."""
        return cls.model_validate_json(body)

    def message_attributes(self) -> dict[str, MessageAttributeValueTypeDef]:
        """SQS message attributes: user attributes plus `type` and `correlation_id`.

        Attributes let subscribers and filters route on a message without parsing its body.
        """
        values = {**self.attributes, TYPE_ATTRIBUTE: self.type}
        values[CORRELATION_ATTRIBUTE] = self.correlation_id
        return {
            name: {"DataType": "String", "StringValue": value} for name, value in values.items()
        }

    def outgoing(
        self,
        *,
        delay_seconds: int = 0,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> OutgoingMessage:
        """The envelope as a message to send, its entry id the envelope id."""
        return OutgoingMessage(
            str(self.id),
            self.to_body(),
            self.message_attributes(),
            delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )


def payload_preview(payload: dict[str, Any], limit: int = 200) -> str:
    """A short, log-safe rendering of a payload."""
    text = json.dumps(payload, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
