"""What the producer's HTTP API accepts and answers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.models import Envelope, MessageAttributes, MessageType

MAX_DELAY_SECONDS = 900
"""SQS's own limit on DelaySeconds (15 minutes)."""


class MessageIn(BaseModel):
    """A message to enqueue. Unknown fields are refused so a typo never goes unnoticed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "order.created",
                    "payload": {"order_id": "A-1001", "amount": 42.5},
                    "attributes": {"tenant": "acme"},
                }
            ]
        },
    )

    type: MessageType = Field(description="Routing key the consumer dispatches on.")
    payload: dict[str, Any] = Field(description="Any JSON object.")
    attributes: MessageAttributes = Field(
        default_factory=dict, description="String attributes, sent as SQS message attributes."
    )
    delay_seconds: int = Field(default=0, ge=0, le=MAX_DELAY_SECONDS)
    correlation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Ties related messages together; taken from X-Correlation-ID if absent.",
    )

    def to_envelope(self, correlation_id: str | None = None) -> Envelope:
        fields: dict[str, Any] = {
            "type": self.type,
            "payload": self.payload,
            "attributes": self.attributes,
        }
        chosen = self.correlation_id or correlation_id
        if chosen:
            fields["correlation_id"] = chosen
        return Envelope(**fields)


class MessageAccepted(BaseModel):
    """The message is stored in SQS: `id` is ours, `message_id` is the one SQS assigned."""

    id: UUID
    message_id: str
    correlation_id: str


class BatchIn(BaseModel):
    """Several messages in one request; each is validated and answered on its own."""

    model_config = ConfigDict(extra="forbid")

    messages: list[MessageIn] = Field(min_length=1, max_length=10_000)


class BatchItem(BaseModel):
    """One message's fate: `status` is 202 when stored, else the status it would have had alone."""

    index: int
    status: int
    id: UUID
    message_id: str | None = None
    detail: str | None = None


class BatchAccepted(BaseModel):
    accepted: int
    failed: int
    results: list[BatchItem]


class Problem(BaseModel):
    """Every error answer: `detail` says what is wrong in words a client can act on."""

    detail: str


class ValidationProblem(BaseModel):
    """A 422: `detail` names each offending field, as FastAPI does; `message` sums it up."""

    message: str
    detail: list[dict[str, Any]]


class Health(BaseModel):
    status: str
    queue: str | None = None
    detail: str | None = None
