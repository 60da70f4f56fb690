"""Queue depths for the dashboard, read on a timer only while someone is watching.

Every open page shares the same reading: one GetQueueAttributes per queue per period,
however many pages are open, and none while no page is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from producer.tracking.feed import FeedHub, Frame
from shared.aws import AwsError, SqsQueue

log = logging.getLogger(__name__)


def depth(queue: SqsQueue) -> dict[str, Any]:
    """`visible` can be received now; `in_flight` is received and not yet deleted."""
    counts = queue.depth()
    return {"name": queue.name, "visible": counts.visible, "in_flight": counts.in_flight}


class QueueStats:
    """Publishes the queue's and the dead-letter queue's depth to `hub` every `interval`."""

    def __init__(
        self,
        queue: SqsQueue,
        dlq: SqsQueue,
        hub: FeedHub,
        *,
        interval: float,
        extra: Callable[[], Frame] | None = None,
    ) -> None:
        self.queue = queue
        self.dlq = dlq
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
        """Both depths; a queue that cannot be read is null, with the reason in `error`."""
        self.reads += 1
        figures: Frame = {
            "at": datetime.now(UTC).isoformat(),
            "interval_seconds": self.interval,
            "error": None,
        }
        for key, queue in (("queue", self.queue), ("dlq", self.dlq)):
            try:
                figures[key] = depth(queue)
            except AwsError as exc:
                figures[key] = None
                figures["error"] = f"{queue.name}: {exc}"
        return figures
