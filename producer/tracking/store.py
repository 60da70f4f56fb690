"""What the producer knows of each recent message's progress, for GET /messages/{id}.

Events arrive late, twice or out of order (they cross processes and a queue), so a
message's current stage moves only forward: by attempt and stage within an attempt, with
`done` final. After `failed` or `dead`, only a later event moves it on (a retry, a redrive).
Memory is bounded: the least recently updated messages are forgotten first. A message is
remembered as steps, plain tuples of what each event said beyond the message's id and type,
with the names they repeat shared: about a fifth of the memory the events themselves take.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

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
    queue: str = Field(description="The queue this stage happened on (a topic fans out).")
    at: datetime
    attempt: int
    error: str | None = None
    latency_ms: float | None = None


class QueueProgress(BaseModel):
    """How far a message got on one queue."""

    stage: Stage
    attempts: int = Field(description="Highest SQS receive count reported on this queue.")
    latency_ms: float | None = None
    error: str | None = Field(default=None, description="Why it failed, while failed or dead.")


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
    queues: dict[str, QueueProgress] = Field(
        default_factory=dict,
        description="Each queue a consumer reported from, and the furthest stage there: one "
        "for a message sent to a queue, one per subscribed queue for a topic's.",
    )
    history: list[StageEntry] = Field(
        description="Every stage reported, in causal order: by attempt, then stage."
    )


class _Step(NamedTuple):
    """One event of a message, less its id and type (the record holds them once)."""

    stage: Stage
    queue: str
    at: datetime
    attempt: int
    latency_ms: float | None
    error: str | None
    topic: str | None

    @classmethod
    def of(cls, event: StatusEvent) -> _Step:
        topic = event.topic
        return cls(
            event.stage,
            sys.intern(event.queue),  # one copy of each queue's name, not one per event
            event.at,
            event.attempt,
            event.latency_ms,
            event.error,
            None if topic is None else sys.intern(topic),
        )

    def causal_order(self) -> tuple[int, int, datetime]:
        return (self.attempt, _RANK[self.stage], self.at)


def supersedes(new: _Step, current: _Step) -> bool:
    """Whether `new` becomes the current stage over `current`."""
    if current.stage is Stage.DONE or new.stage is Stage.ACCEPTED:
        return False
    if new.stage is Stage.DONE:
        return True
    if current.stage in (Stage.FAILED, Stage.DEAD):
        return new.at > current.at  # a retry or a redrive, not a straggler from before
    return new.causal_order() > current.causal_order()


class _Record:
    __slots__ = ("current", "first_seen", "history", "id", "type")

    def __init__(self, event: StatusEvent) -> None:
        self.id = event.id
        self.type = sys.intern(event.type)
        step = _Step.of(event)
        self.current = step
        self.first_seen = event.at
        self.history: list[_Step] = [step]

    def apply(self, event: StatusEvent) -> bool:
        """Add `event`; False when it was a duplicate."""
        step = _Step.of(event)
        if step in self.history:
            return False
        self.history.append(step)
        # Causal order, not clock order: clocks differ between processes, so a consumer's
        # `received` may be stamped before the producer's `accepted`. Each attempt's stages
        # follow one another; the clock only orders what causality does not (two queues).
        self.history.sort(key=_Step.causal_order)
        del self.history[:-MAX_HISTORY]
        accepted = [item.at for item in self.history if item.stage is Stage.ACCEPTED]
        self.first_seen = accepted[0] if accepted else min(self.first_seen, step.at)
        if supersedes(step, self.current):
            self.current = step
        return True

    def events(self) -> list[StatusEvent]:
        return [
            StatusEvent.model_construct(id=self.id, type=self.type, **step._asdict())
            for step in self.history
        ]

    def queues(self) -> dict[str, QueueProgress]:
        furthest: dict[str, _Step] = {}
        attempts: dict[str, int] = {}
        for event in self.history:
            if event.stage is Stage.ACCEPTED:
                continue  # the producer's: on the topic, or the queue it was sent to
            attempts[event.queue] = max(attempts.get(event.queue, 0), event.attempt)
            current = furthest.get(event.queue)
            if current is None or supersedes(event, current):
                furthest[event.queue] = event
        return {
            queue: QueueProgress(
                stage=event.stage,
                attempts=attempts[queue],
                latency_ms=event.latency_ms,
                error=event.error if event.stage in (Stage.FAILED, Stage.DEAD) else None,
            )
            for queue, event in sorted(furthest.items())
        }

    def status(self) -> MessageStatus:
        current = self.current
        return MessageStatus(
            id=self.id,
            stage=current.stage,
            type=self.type,
            queue=current.queue,
            topic=next((e.topic for e in self.history if e.topic), None),
            attempts=max(e.attempt for e in self.history),
            first_seen=self.first_seen,
            updated=max(e.at for e in self.history),
            latency_ms=current.latency_ms,
            error=current.error if current.stage in (Stage.FAILED, Stage.DEAD) else None,
            queues=self.queues(),
            history=[
                StageEntry(
                    stage=e.stage,
                    queue=e.queue,
                    at=e.at,
                    attempt=e.attempt,
                    error=e.error,
                    latency_ms=e.latency_ms,
                )
                for e in self.history
            ],
        )


def status_of(events: Sequence[StatusEvent]) -> MessageStatus | None:
    """One message's status from its events, in any order (None for no events)."""
    if not events:
        return None
    record = _Record(events[0])
    for event in events[1:]:
        record.apply(event)
    return record.status()


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

    def events(self, message_id: str) -> list[StatusEvent]:
        """The events kept for `message_id` (none when unknown or forgotten)."""
        record = self._records.get(message_id)
        return record.events() if record else []
