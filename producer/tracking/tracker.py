"""Status tracking as one unit the app starts and stops: store, live feed and their loops.

The producer records `accepted` itself, when it answers 202; every later stage comes from
the consumers through the events queue. Without an events queue the producer still shows
what it accepted and how deep the queues are. With `PRODUCER_STATUS_STORE=dynamodb` every
event this replica records (its own `accepted`, and the events its reader took from the
queue) is also written to the shared table, where every replica reads status from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from producer.tracking.events_reader import EventsReader
from producer.tracking.feed import FeedHub, Frame
from producer.tracking.queue_stats import QueueStats
from producer.tracking.status_table import StatusTable
from producer.tracking.status_writer import StatusWriter
from producer.tracking.store import MessageStatus, StatusStore, status_of
from shared.aws import SqsQueue, build_client
from shared.messages.envelope import Envelope
from shared.messages.status_events import Stage, StatusEvent
from shared.settings import Settings


class Tracker:
    """Where every status event goes: the store, the shared table, and the feed when it is
    news."""

    def __init__(
        self, store: StatusStore, hub: FeedHub, writer: StatusWriter | None = None
    ) -> None:
        self.store = store
        self.hub = hub
        self.writer = writer

    def record(self, events: Iterable[StatusEvent]) -> None:
        news = [event for event in events if self.store.apply(event)]
        for event in news:  # a repeated event is neither counted nor shown
            self.hub.publish_event(event)
        if self.writer is not None:
            self.writer.add(news)

    def accepted(self, envelope: Envelope, queue: str, topic: str | None = None) -> None:
        event = StatusEvent(
            id=envelope.id, stage=Stage.ACCEPTED, type=envelope.type, queue=queue, topic=topic
        )
        self.record([event])


@dataclass
class Tracking:
    """One app's status tracking: what routes record into, and the loops that feed it."""

    tracker: Tracker
    table: StatusTable | None = None
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
        table = (
            StatusTable(
                build_client("dynamodb", settings),
                producer.status_table,
                producer.status_ttl_seconds,
            )
            if producer.status_store == "dynamodb"
            else None
        )
        writer = StatusWriter(table) if table else None
        tracking = cls(Tracker(StatusStore(producer.status_capacity), hub, writer), table)
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
        loops += [writer.run()] if writer else []
        tracking._tasks = [asyncio.create_task(loop) for loop in loops]
        return tracking

    async def status(self, message_id: str) -> MessageStatus | None:
        """A message's status: from the shared table when there is one (with what this
        replica recorded and has not written yet), else from this process's memory.
        Raises AwsError when the table cannot be read."""
        if self.table is None:
            return self.store.get(message_id)
        stored = await asyncio.to_thread(self.table.read, message_id)
        return status_of(stored + self.store.events(message_id))

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
        if self.tracker.writer is not None:
            await self.tracker.writer.close()  # what the reader took last is written too
        self.hub.close()
