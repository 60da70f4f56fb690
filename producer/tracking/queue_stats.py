"""Queue depths for the dashboard, read on a timer only while someone is watching.

Every declared queue is shown with its dead-letter queue: the main queue, the queues the
consumer settings name and every queue subscribed to a declared topic. Every open page
shares the same reading: one GetQueueAttributes per queue per period (and the oldest
messages' ages from CloudWatch once a minute), however many pages are open, and none while
no page is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from producer.tracking.feed import FeedHub, Frame
from producer.tracking.queue_ages import OldestAges
from shared.aws import AwsError, SqsQueue
from shared.messages.dead_letter import dead_letter_queue_of
from shared.settings import Settings
from shared.topology.topics import TopicsConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchedQueue:
    queue: SqsQueue
    dlq: SqsQueue


def declared_queues(settings: Settings, topics: TopicsConfig) -> list[str]:
    """The main queue, then the consumer's queues, then the topics' queues, each once."""
    names = [settings.sqs.queue_name, *settings.consumer.queues, *topics.feeds()]
    return list(dict.fromkeys(names))


def watched(queue: SqsQueue, settings: Settings, topics: TopicsConfig) -> list[WatchedQueue]:
    """Every declared queue with the dead-letter queue bootstrap gave it, over `queue`'s client."""
    return [
        WatchedQueue(queue.sibling(name), queue.sibling(dead_letter_queue_of(name, settings.sqs)))
        for name in declared_queues(settings, topics)
    ]


def depth(queue: SqsQueue, oldest_age_seconds: float | None = None) -> dict[str, Any]:
    """`visible` can be received now; `in_flight` is received and not yet deleted;
    `oldest_age_seconds` is CloudWatch's latest reading, null when unknown."""
    counts = queue.depth()
    return {
        "name": queue.name,
        "visible": counts.visible,
        "in_flight": counts.in_flight,
        "oldest_age_seconds": oldest_age_seconds,
    }


class QueueStats:
    """Publishes every watched queue's and dead-letter queue's depth to `hub` every
    `interval`."""

    def __init__(
        self,
        queues: Sequence[WatchedQueue],
        hub: FeedHub,
        *,
        interval: float,
        extra: Callable[[], Frame] | None = None,
        ages: OldestAges | None = None,
    ) -> None:
        self.queues = list(queues)
        self.ages = ages
        self.hub = hub
        self.interval = interval
        self.extra = extra
        self.reads = 0

    async def run(self) -> None:
        while True:
            if self.hub.clients:
                try:
                    await self.publish_once()
                except Exception:  # the figures may lapse, the loop may not
                    log.exception("queue figures for the feed")
            await asyncio.sleep(self.interval)

    async def publish_once(self) -> None:
        figures = await asyncio.to_thread(self.read)
        if self.extra is not None:
            figures.update(self.extra())
        self.hub.publish_stats(figures)

    def read(self) -> Frame:
        """Every depth; a queue that cannot be read is null, with the reason in `error`.

        `queue` and `dlq` repeat the first (main) row, for pages that show only it.
        """
        self.reads += 1
        errors: list[str] = []
        names = [q.name for w in self.queues for q in (w.queue, w.dlq)]
        ages = self.ages.ages(names) if self.ages is not None else {}

        def read_one(queue: SqsQueue) -> dict[str, Any] | None:
            try:
                return depth(queue, ages.get(queue.name))
            except AwsError as exc:
                errors.append(f"{queue.name}: {exc}")
                return None

        rows = [
            {"name": w.queue.name, "queue": read_one(w.queue), "dlq": read_one(w.dlq)}
            for w in self.queues
        ]
        return {
            "at": datetime.now(UTC).isoformat(),
            "interval_seconds": self.interval,
            "error": "; ".join(errors) or None,
            "queue": rows[0]["queue"],
            "dlq": rows[0]["dlq"],
            "queues": rows,
        }
