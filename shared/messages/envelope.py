"""The envelope: what our producer sends as the SQS body, and how it maps to SQS attributes.

The envelope carries its own id and correlation id so that a message can be traced and
deduplicated across producer, queue, retries and dead-letter queue, whatever MessageId
SQS assigns on each hop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import uuid4

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from typing_extensions import override

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
TRACEPARENT_ATTRIBUTE = "traceparent"
TRACESTATE_ATTRIBUTE = "tracestate"
RESERVED_ATTRIBUTES = frozenset(
    {TYPE_ATTRIBUTE, CORRELATION_ATTRIBUTE, TRACEPARENT_ATTRIBUTE, TRACESTATE_ATTRIBUTE}
)
MAX_USER_ATTRIBUTES = MAX_MESSAGE_ATTRIBUTES - 3
"""SQS allows ten message attributes; the envelope uses three of them (`type`,
`correlation_id`, `traceparent`). `tracestate` rides only where one is left to spare."""
LARGE_PAYLOAD_ATTRIBUTES = frozenset({"ExtendedPayloadSize", "SQSLargePayloadSize"})
"""Set by the sender when the body is stored in S3 (see `large_payload`); never a user's."""
MAX_ID_LENGTH = 256

ATTRIBUTES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_USER_ATTRIBUTES,
    "propertyNames": {
        "minLength": 1,
        "maxLength": 256,
        # What _check_attributes refuses, said as a pattern so clients see it in the schema.
        "pattern": r"^(?![Aa][Ww][Ss]\.|[Aa][Mm][Aa][Zz][Oo][Nn]\.)"
        r"(?!(?:type|correlation_id|traceparent|tracestate|ExtendedPayloadSize|SQSLargePayloadSize)$)"
        r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
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

_PRINTABLE_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "pattern": HEADER_SAFE_PATTERN,
}

CorrelationId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(_header_safe),
    WithJsonSchema(_PRINTABLE_ID_SCHEMA),
]
"""Ties related messages together; printable ASCII, since it is logged and sent as a header."""

EnvelopeId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(_header_safe),
    WithJsonSchema(_PRINTABLE_ID_SCHEMA),
]
"""A message's own id: a UUID, a ULID, any printable ASCII up to 256 characters."""


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
    reserved = (RESERVED_ATTRIBUTES | LARGE_PAYLOAD_ATTRIBUTES).intersection(value)
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


def _new_id() -> str:
    return str(uuid4())


Format = Literal["envelope", "sns", "s3", "eventbridge", "json", "text"]
"""How a received body was written: our envelope, or one of the foreign formats."""


@dataclass(frozen=True)
class SnsNotice:
    """The SNS notification a message came wrapped in (a subscription without raw delivery)."""

    message_id: str
    topic_arn: str
    timestamp: datetime | None
    subject: str | None = None


@dataclass(frozen=True)
class AwsEvent:
    """The AWS event a message is (or is a record of): EventBridge's, or S3's own."""

    source: str
    """`aws.s3`, `aws.ec2`, `com.example.orders`: who emitted it."""
    detail_type: str
    """EventBridge's `detail-type`; for an S3 notification record, its `eventName`."""
    id: str | None = None
    time: datetime | None = None
    region: str | None = None
    account: str | None = None
    resources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Origin:
    """Where a received message came from and how it was written; empty for one being sent."""

    format: Format = "envelope"
    message_id: str = ""
    """The SQS MessageId it was received with."""
    body: str = ""
    """The body a handler taking `str` gets: a text message's text, else the JSON read."""
    attributes: Mapping[str, MessageAttributeValueTypeDef] = field(default_factory=dict)
    """The message attributes, as sent (or as SNS's notification carried them)."""
    sns: SnsNotice | None = None
    event: AwsEvent | None = None
    stored_in: str | None = None
    """`s3://bucket/key` when the body came from S3 (a large payload)."""


SENT = Origin()


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One message as stored in SQS: routing type, JSON payload and tracing fields.

    Unknown fields are refused, never dropped unread; `correlationId` and `createdAt` are
    read as their snake-case names, as other languages' serializers write them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: EnvelopeId = Field(
        default_factory=_new_id,
        description="Stable across retries, redrives and the dead-letter queue; the "
        "idempotency key. Any printable ASCII up to 256 characters (a UUID, a ULID). When "
        "absent, the consumer takes the SQS MessageId, which stays the same on every receive.",
    )
    type: MessageType = Field(description="The routing key the consumer dispatches on.")
    payload: dict[str, Any] = Field(description="Any JSON object: what the handler gets.")
    created_at: datetime = Field(
        default_factory=_now,
        validation_alias=AliasChoices("created_at", "createdAt"),
        description="When the message was made (ISO 8601; without a zone, UTC). When "
        "absent, the consumer takes the time SQS received it. `createdAt` is read too.",
    )
    correlation_id: CorrelationId = Field(
        default_factory=_new_id,
        validation_alias=AliasChoices("correlation_id", "correlationId"),
        description="Ties related messages together; when absent, the id. "
        "`correlationId` is read too.",
    )
    attributes: MessageAttributes = Field(
        default_factory=dict,
        description="String attributes, also sent as SQS message attributes (not `type` or "
        "`correlation_id`, no `AWS.` or `Amazon.` prefix).",
    )

    _origin: Origin = PrivateAttr(default_factory=lambda: SENT)
    """A factory, not `default=SENT`: pydantic deep-copies a plain default for each instance,
    which cost more than validating the rest of the envelope."""

    @property
    def origin(self) -> Origin:
        """Where a received message came from: its format, SQS MessageId, attributes, and
        the SNS notification or AWS event it was."""
        return self._origin

    @override
    def __eq__(self, other: object) -> bool:
        """The same message whichever way it came: `origin` is not part of it."""
        if not isinstance(other, Envelope):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # a payload is a dict: never hashable

    def received(self, origin: Origin) -> Envelope:
        """This envelope as received with `origin` (no copy: set once, by the reader)."""
        self._origin = origin
        return self

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

    def message_attributes(
        self, trace: Mapping[str, str] | None = None
    ) -> dict[str, MessageAttributeValueTypeDef]:
        """SQS message attributes: user attributes plus `type`, `correlation_id` and the trace
        context (`shared.tracing.outgoing`): `traceparent`, and `tracestate` while a slot is
        left beside the one a large payload's size may need.

        Attributes let subscribers and filters route on a message without parsing its body.
        """
        values = {**self.attributes, TYPE_ATTRIBUTE: self.type}
        values[CORRELATION_ATTRIBUTE] = self.correlation_id
        trace = trace or {}
        if trace.get(TRACEPARENT_ATTRIBUTE):
            values[TRACEPARENT_ATTRIBUTE] = trace[TRACEPARENT_ATTRIBUTE]
            if trace.get(TRACESTATE_ATTRIBUTE) and len(values) < MAX_MESSAGE_ATTRIBUTES - 1:
                values[TRACESTATE_ATTRIBUTE] = trace[TRACESTATE_ATTRIBUTE]
        return {
            name: {"DataType": "String", "StringValue": value} for name, value in values.items()
        }

    def outgoing(
        self,
        *,
        delay_seconds: int = 0,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        trace: Mapping[str, str] | None = None,
    ) -> OutgoingMessage:
        """The envelope as a message to send, its entry id the envelope id."""
        return OutgoingMessage(
            self.id,
            self.to_body(),
            self.message_attributes(trace),
            delay_seconds,
            group_id=group_id,
            deduplication_id=deduplication_id,
        )


def payload_preview(payload: dict[str, Any], limit: int = 200) -> str:
    """A short, log-safe rendering of a payload."""
    text = json.dumps(payload, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
