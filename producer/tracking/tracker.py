"""Status tracking as one unit the app starts and stops: store, live feed and their loops.

The producer records `accepted` itself, when it answers 202; every later stage comes from
the consumers through the events queue. Without an events queue the producer still shows
what it accepted and how deep the queues are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from producer.tracking.events_reader import EventsReader
from producer.tracking.feed import FeedHub, Frame
from producer.tracking.queue_stats import QueueStats
from producer.tracking.store import StatusStore
from shared.aws import SqsQueue
from shared.messages.envelope import Envelope
from shared.messages.status_events import Stage, StatusEvent
from shared.settings import Settings


class Tracker:
    """Where every status event goes: the store, and the feed when it is news."""

    def __init__(self, store: StatusStore, hub: FeedHub) -> None:
        self.store = store
        self.hub = hub

    def record(self, events: Iterable[StatusEvent]) -> None:
        for event in events:
            if self.store.apply(event):  # a repeated event is neither counted nor shown
                self.hub.publish_event(event)

    def accepted(self, envelope: Envelope, queue: str, topic: str | None = None) -> None:
        event = StatusEvent(
            id=envelope.id, stage=Stage.ACCEPTED, type=envelope.type, queue=queue, topic=topic
        )
        self.record([event])


@dataclass
class Tracking:
    """One app's status tracking: what routes record into, and the loops that feed it."""

    tracker: Tracker
    reader: EventsReader | None = None
    stats: QueueStats | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def hub(self) -> FeedHub:
        return self.tracker.hub

    @property
    def store(self) -> StatusStore:
        return self.tracker.store

    @classmethod
    def start(cls, settings: Settings, queue: SqsQueue) -> Tracking:
        """Build everything and start the loops; must run inside the app's event loop."""
        producer = settings.producer
        hub = FeedHub(
            recent=producer.feed_recent_events,
            client_buffer=producer.feed_client_buffer,
            max_clients=producer.feed_max_clients,
            max_clients_per_caller=producer.feed_max_clients_per_caller,
        )
        tracking = cls(Tracker(StatusStore(producer.status_capacity), hub))
        events_queue = settings.sqs.events_queue_name
        if events_queue:
            # The producer's own client: its read timeout is not stretched for long polls,
            # so a poll waits at most half of it.
            wait = min(settings.sqs.wait_time_seconds, int(settings.sqs.read_timeout // 2))
            tracking.reader = EventsReader(
                queue.sibling(events_queue),
                tracking.tracker.record,
                wait_seconds=wait,
                secret=settings.sqs.events_secret,
            )
        tracking.stats = QueueStats(
            queue,
            queue.sibling(settings.sqs.dlq_name),
            hub,
            interval=producer.stats_interval_seconds,
            extra=tracking.reader_counts,
        )
        loops = [tracking.stats.run()] + ([tracking.reader.run()] if tracking.reader else [])
        tracking._tasks = [asyncio.create_task(loop) for loop in loops]
        return tracking

    def reader_counts(self) -> Frame:
        return {"events_reader": asdict(self.reader.counts) if self.reader else None}

    async def stop(self) -> None:
        """End the loops and tell open pages the feed is closing."""
        if self.reader is not None:
            self.reader.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.hub.close()
