"""Status tracking as one unit the app starts and stops: store, live feed and their loops.

The producer records `accepted` itself, when it answers 202; every later stage comes from
the consumers. Through the events topic each replica has a feed queue of its own
(`feed_queue`), which brings it every event to keep and show; without a topic, replicas
share the events queue and each sees what its reader took. Without an events queue the
producer still shows what it accepted and how deep the queues are.

With `PRODUCER_STATUS_STORE=dynamodb` every event is also written to the shared table,
where every replica reads status from: a replica's own `accepted`, and what its reader
took from the shared events queue, which hands each event to one replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial

from producer.tracking.events_reader import EventsReader
from producer.tracking.feed import FeedHub, Frame
from producer.tracking.feed_queue import FeedQueue
from producer.tracking.queue_ages import OldestAges
from producer.tracking.queue_stats import QueueStats, watched
from producer.tracking.status_table import StatusTable
from producer.tracking.status_writer import StatusWriter
from producer.tracking.store import MessageStatus, StatusStore, status_of
from shared.aws import AwsError, SqsQueue, build_client
from shared.messages.envelope import Envelope
from shared.messages.status_events import Stage, StatusEvent
from shared.settings import Settings
from shared.topology.topics import TopicsConfig

log = logging.getLogger(__name__)

FEED_QUEUE_CLOSE_SECONDS = 5.0


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
        """Keep, show and write what is news."""
        self.write(self.observe(events))

    def observe(self, events: Iterable[StatusEvent]) -> list[StatusEvent]:
        """Keep and show what is news (a repeated event is neither); returns the news."""
        news = [event for event in events if self.store.apply(event)]
        for event in news:
            self.hub.publish_event(event)
        return news

    def write(self, events: Sequence[StatusEvent]) -> None:
        """Hand events to the shared table's writer, when there is a table."""
        if self.writer is not None:
            self.writer.add(events)

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
    feed_queue: FeedQueue | None = None
    feed_reader: EventsReader | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def hub(self) -> FeedHub:
        return self.tracker.hub

    @property
    def store(self) -> StatusStore:
        return self.tracker.store

    @classmethod
    def start(
        cls, settings: Settings, queue: SqsQueue, topics: TopicsConfig | None = None
    ) -> Tracking:
        """Build everything and start the loops; must run inside the app's event loop.
        `topics` adds the declared topics' queues to the queue figures."""
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
        events_queue, topic = settings.sqs.events_queue_name, settings.sqs.events_topic
        if events_queue and settings.sqs.events_secret is None:
            log.warning(
                "status events are unsigned (SQS_EVENTS_SECRET unset): whoever may send to "
                "%s can write any message's status",
                topic or events_queue,
            )
        if events_queue:
            # The producer's own client: its read timeout is not stretched for long polls,
            # so a poll waits at most half of it.
            reader = partial(
                EventsReader,
                wait_seconds=min(
                    settings.sqs.wait_time_seconds, int(settings.sqs.read_timeout // 2)
                ),
                secret=settings.sqs.events_secret,
            )
            tracker = tracking.tracker
            # Through a topic, every replica's own queue brings it every event to keep and
            # show, and the shared queue each event once, for one replica to write to the
            # table; with no table, nobody needs the shared queue, whose events expire.
            if not topic:
                tracking.reader = reader(queue.sibling(events_queue), tracker.record)
            else:
                if table is not None:
                    tracking.reader = reader(queue.sibling(events_queue), tracker.write)
                tracking.feed_queue = FeedQueue(
                    queue.client,
                    build_client("sns", settings),
                    topic,
                    heartbeat_seconds=producer.feed_queue_heartbeat_seconds,
                    expiry_seconds=producer.feed_queue_expiry_seconds,
                )
                tracking.feed_reader = reader(
                    queue.sibling(tracking.feed_queue.name), tracker.observe
                )
        tracking.stats = QueueStats(
            watched(queue, settings, topics or TopicsConfig()),
            hub,
            ages=OldestAges(build_client("cloudwatch", settings)),
            interval=producer.stats_interval_seconds,
            extra=tracking.reader_counts,
        )
        loops = [tracking.stats.run()] + ([tracking.reader.run()] if tracking.reader else [])
        loops += [writer.run()] if writer else []
        if tracking.feed_queue is not None:
            loops.append(tracking.feed_queue.keep(opened=tracking._read_feed))
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

    @staticmethod
    async def _close_feed_queue(feed_queue: FeedQueue) -> None:
        """Remove the feed queue, bounded: one left behind is removed by the others later."""
        try:
            await asyncio.wait_for(asyncio.to_thread(feed_queue.close), FEED_QUEUE_CLOSE_SECONDS)
        except (TimeoutError, AwsError) as exc:
            log.warning(
                "feed queue %s not removed (%s); other replicas remove it once it expires",
                feed_queue.name,
                exc or "timed out",
            )

    def _read_feed(self) -> None:
        """Start reading this replica's feed queue, now that it exists."""
        if self.feed_reader is not None:
            self._tasks.append(asyncio.create_task(self.feed_reader.run()))

    def reader_counts(self) -> Frame:
        return {
            "events_reader": asdict(self.reader.counts) if self.reader else None,
            "feed_reader": asdict(self.feed_reader.counts) if self.feed_reader else None,
            "feed_queue": self._feed_queue_figures(),
        }

    def _feed_queue_figures(self) -> Frame | None:
        """This replica's feed queue, once subscribed, and the left-behind ones it removed."""
        feed_queue = self.feed_queue
        if feed_queue is None or feed_queue.subscription is None:
            return None
        return {"name": feed_queue.name, "removed": feed_queue.removed}

    async def stop(self) -> None:
        """End the loops, remove this replica's feed queue and tell open pages the feed is
        closing."""
        for reader in (self.reader, self.feed_reader):
            if reader is not None:
                reader.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.tracker.writer is not None:
            await self.tracker.writer.close()  # what the reader took last is written too
        if self.feed_queue is not None:
            await self._close_feed_queue(self.feed_queue)
        self.hub.close()
