"""What the consumer tells the producer's feed about each message it handles.

Events are keyed by envelope id, the id `POST /messages` answered with, so a client can
follow its message. A message of a foreign format is followed by the id it was read with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from consumer.outcome import Abandoned, Dead, Done, Outcome, Released, Retry
from shared.aws import ReceivedMessage
from shared.messages.envelope import Envelope
from shared.messages.status_events import Stage, StatusEvent


class EventSink(Protocol):
    def publish(self, event: StatusEvent) -> None: ...


class StatusRecorder:
    def __init__(self, sink: EventSink | None, queue_name: str) -> None:
        self.sink = sink
        self.queue_name = queue_name

    def stage(
        self,
        envelope: Envelope,
        message: ReceivedMessage,
        stage: Stage,
        *,
        at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        if self.sink is None:
            return
        now = at or datetime.now(UTC)
        latency = None
        if stage in (Stage.DONE, Stage.DEAD):
            latency = (now - envelope.created_at).total_seconds() * 1000
        self.sink.publish(
            StatusEvent(
                id=envelope.id,
                stage=stage,
                type=envelope.type,
                queue=self.queue_name,
                at=now,
                attempt=message.receive_count,
                latency_ms=latency,
                error=error,
            )
        )

    def outcome(self, envelope: Envelope, outcome: Outcome) -> None:
        """The event an outcome means; a released message has none (it was never started)."""
        message = outcome.message
        match outcome:
            case Done():
                self.stage(envelope, message, Stage.DONE)
            case Retry(error=error):
                self.stage(envelope, message, Stage.FAILED, error=error)
            case Abandoned():
                self.stage(envelope, message, Stage.FAILED, error="handler overran its time limit")
            case Dead() | Released():
                pass  # dead: said by `dead_lettered`, once the DLQ has it; released: unstarted

    def dead_lettered(self, moved: Sequence[Dead], refused: Sequence[Dead]) -> None:
        """`dead` for each copy the dead-letter queue took, said only then: a copy it refused
        stays in the queue and dies on a later receive, and must not read as dead twice. A
        refused one is `failed` meanwhile."""
        if self.sink is None:
            return
        for stage, outcomes in ((Stage.DEAD, moved), (Stage.FAILED, refused)):
            for dead in outcomes:
                envelope = dead.envelope
                if envelope is None:
                    continue  # never read: nobody follows it by id
                error = f"{dead.reason.value}: {dead.error}"
                if stage is Stage.FAILED:
                    error = f"{error} (the dead-letter queue did not take it; tried again later)"
                self.stage(envelope, dead.message, stage, error=error)
