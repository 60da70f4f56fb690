"""Status events: what happened to a message, as seen by the producer and the consumers.

They cross process boundaries (consumers publish them to the events queue, the producer
reads them), so they are plain JSON with one shape for every stage. Many events travel in
one SQS message, which keeps the cost of status tracking far below one request per message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator


class Stage(StrEnum):
    """A message's life, in order; `failed` may repeat before `done` or `dead`."""

    ACCEPTED = "accepted"
    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"


FINAL_STAGES = frozenset({Stage.DONE, Stage.DEAD})
MAX_ERROR_LENGTH = 500
"""Longest `error` an event carries, in characters: a handler's error may echo its payload,
which must not flood the feed, the status answer or the producer's memory."""


def _now() -> datetime:
    return datetime.now(UTC)


class StatusEvent(BaseModel):
    """One stage of one message (by envelope id), stamped where it happened."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=256)
    """The envelope id: ours are UUIDs, a foreign message's any printable string."""
    stage: Stage
    type: str
    queue: str
    at: datetime = Field(default_factory=_now)
    attempt: int = Field(default=0, ge=0, description="SQS receive count; 0 before any receive.")
    latency_ms: float | None = Field(
        default=None, description="From the envelope's created_at to this event (done, dead)."
    )
    error: str | None = None
    topic: str | None = None

    @field_validator("error")
    @classmethod
    def _bounded(cls, error: str | None) -> str | None:
        """Cut to MAX_ERROR_LENGTH, the cut shown by a final "…"; read events are cut too."""
        if error is None or len(error) <= MAX_ERROR_LENGTH:
            return error
        return error[: MAX_ERROR_LENGTH - 1] + "…"


EVENT_LIST = TypeAdapter(list[StatusEvent])
"""An events-queue body: a JSON array of events."""
