"""Status events on their way to the shared table: gathered, then written 25 to a request.

Recording an event never waits on DynamoDB: it joins a bounded buffer that one task in the
app's loop drains every `FLUSH_SECONDS` (or sooner once a full request's worth is waiting),
writing on a thread. Status is best-effort: a failed write is retried once on the next
flush, then counted and dropped, and a full buffer drops its oldest events, counted too;
the message path (POSTs, the consumers) never slows for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from prometheus_client import REGISTRY, Counter

from producer.tracking.status_table import BATCH_ITEMS, StatusTable
from shared.messages.status_events import StatusEvent

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
"""Longest an event waits to be written: a GET on another replica sees it this much later."""
MAX_PENDING = 10_000
"""Events waiting at most, while DynamoDB is slow or down; beyond, the oldest are dropped."""
CLOSE_SECONDS = 5.0
"""Longest the producer's stop waits for the last writes; what is left is dropped, counted."""
WRITES_PER_FLUSH = 8
"""BatchWriteItem calls one flush makes at most (200 events): the rest wait for the next."""

WRITTEN = Counter(
    "producer_status_events_written",
    "Status events written to the shared status table.",
    registry=REGISTRY,
)
DROPPED = Counter(
    "producer_status_events_dropped",
    "Status events never written to the shared status table: `failed` (DynamoDB refused or "
    "was unreachable twice), `overflow` (too many waiting).",
    ["reason"],
    registry=REGISTRY,
)


class StatusWriter:
    """Buffers events for `table`; `run()` is its loop, `close()` writes what is left."""

    def __init__(self, table: StatusTable) -> None:
        self.table = table
        self._pending: deque[StatusEvent] = deque()
        self._retry: list[StatusEvent] = []
        self._wake = asyncio.Event()
        self._failing = False

    def add(self, events: Iterable[StatusEvent]) -> None:
        for event in events:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                DROPPED.labels("overflow").inc()
            self._pending.append(event)
        if len(self._pending) >= BATCH_ITEMS:
            self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is waiting (at most WRITES_PER_FLUSH requests' worth)."""
        retry, self._retry = self._retry, []
        fresh = [
            self._pending.popleft()
            for _ in range(min(len(self._pending), WRITES_PER_FLUSH * BATCH_ITEMS - len(retry)))
        ]
        if not retry and not fresh:
            return
        await self._write(retry, give_up=True)
        await self._write(fresh, give_up=False)

    async def close(self) -> None:
        """Write everything still waiting, for up to CLOSE_SECONDS; what is left or fails
        now is dropped, counted."""
        try:
            await asyncio.wait_for(self._drain(), CLOSE_SECONDS)
        except TimeoutError:
            left = len(self._pending) + len(self._retry)
            DROPPED.labels("failed").inc(left)
            log.warning("status table %s: %d events unwritten at stop", self.table.table, left)

    async def _drain(self) -> None:
        while self._pending or self._retry:
            await self.flush()
            if self._retry:
                retry, self._retry = self._retry, []
                await self._write(retry, give_up=True)

    async def _write(self, events: list[StatusEvent], *, give_up: bool) -> None:
        if not events:
            return
        try:
            await asyncio.to_thread(self.table.write, events)
        except Exception as exc:  # noqa: BLE001  # best-effort: counted, logged, never raised
            if give_up:
                DROPPED.labels("failed").inc(len(events))
            else:
                self._retry = events
            if not self._failing:
                log.warning("status table %s: write failed: %s", self.table.table, exc)
            self._failing = True
            return
        if self._failing:
            log.info("status table %s: writing again", self.table.table)
        self._failing = False
        WRITTEN.inc(len(events))
