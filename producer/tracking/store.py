"""What the producer knows of each recent message's progress, for GET /messages/{id}.

Events arrive late, twice or out of order (they cross processes and a queue), so a
message's current stage moves only forward: by attempt and stage within an attempt, with
`done` final. After `failed` or `dead`, only a later event moves it on (a retry, a redrive).
Memory is bounded: the least recently updated messages are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from pydantic import BaseModel, Field

from shared.messages.status_events import Stage, StatusEvent

MAX_HISTORY = 50
"""Stages kept per message; a message retried for days keeps its latest ones."""

_RANK = {
    Stage.ACCEPTED: 0,
    Stage.RECEIVED: 1,
    Stage.PROCESSING: 2,
    Stage.FAILED: 3,
    Stage.DEAD: 3,
    Stage.DONE: 4,
}


class StageEntry(BaseModel):
    stage: Stage
    at: datetime
    attempt: int
    error: str | None = None
    latency_ms: float | None = None


class MessageStatus(BaseModel):
    """One message as the producer last heard of it."""

    id: str
    stage: Stage = Field(description="The furthest stage reached, whatever order events came in.")
    type: str
    queue: str
    topic: str | None = None
    attempts: int = Field(description="Highest SQS receive count reported.")
    first_seen: datetime
    updated: datetime = Field(description="When the latest event happened.")
    latency_ms: float | None = Field(default=None, description="created_at to done, or dead.")
    error: str | None = Field(default=None, description="Why it failed, while failed or dead.")
    history: list[StageEntry] = Field(description="Every stage reported, in time order.")


def supersedes(new: StatusEvent, current: StatusEvent) -> bool:
    """Whether `new` becomes the current stage over `current`."""
    if current.stage is Stage.DONE or new.stage is Stage.ACCEPTED:
        return False
    if new.stage is Stage.DONE:
        return True
    if current.stage in (Stage.FAILED, Stage.DEAD):
        return new.at > current.at  # a retry or a redrive, not a straggler from before
    return (new.attempt, _RANK[new.stage], new.at) > (
        current.attempt,
        _RANK[current.stage],
        current.at,
    )


class _Record:
    def __init__(self, event: StatusEvent) -> None:
        self.current = event
        self.first_seen = event.at
        self.history: list[StatusEvent] = [event]

    def apply(self, event: StatusEvent) -> bool:
        """Add `event`; False when it was a duplicate."""
        if event in self.history:
            return False
        self.first_seen = min(self.first_seen, event.at)
        self.history.append(event)
        # Clocks differ between processes: the producer's `accepted` goes first whatever its time.
        self.history.sort(
            key=lambda item: (
                item.stage is not Stage.ACCEPTED,
                item.at,
                item.attempt,
                _RANK[item.stage],
            )
        )
        del self.history[:-MAX_HISTORY]
        if supersedes(event, self.current):
            self.current = event
        return True

    def status(self) -> MessageStatus:
        current = self.current
        return MessageStatus(
            id=current.id,
            stage=current.stage,
            type=current.type,
            queue=current.queue,
            topic=next((e.topic for e in self.history if e.topic), None),
            attempts=max(e.attempt for e in self.history),
            first_seen=self.first_seen,
            updated=self.history[-1].at,
            latency_ms=current.latency_ms,
            error=current.error if current.stage in (Stage.FAILED, Stage.DEAD) else None,
            history=[
                StageEntry(
                    stage=e.stage,
                    at=e.at,
                    attempt=e.attempt,
                    error=e.error,
                    latency_ms=e.latency_ms,
                )
                for e in self.history
            ],
        )


class StatusStore:
    """Status of up to `capacity` messages, by envelope id."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.evicted = 0
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def apply(self, event: StatusEvent) -> bool:
        """Record `event`; False when it was already known (events may come twice)."""
        record = self._records.get(event.id)
        if record is None:
            self._records[event.id] = _Record(event)
            if len(self._records) > self.capacity:
                self._records.popitem(last=False)
                self.evicted += 1
            return True
        self._records.move_to_end(event.id)
        return record.apply(event)

    def get(self, message_id: str) -> MessageStatus | None:
        record = self._records.get(message_id)
        return record.status() if record else None
