"""The live feed's hub: status events and queue figures fanned out to every open dashboard.

It lives in the app's event loop. Publishing never waits for a client: each client has a
bounded queue of frames, and one that lets its queue fill up is dropped (its page
reconnects), so a slow or vanished browser can never hold up the producer or other pages.
Clients are capped per process and per caller, so one key cannot take every connection
and no number of callers can grow the process without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, deque
from typing import Any, Literal

from prometheus_client import REGISTRY, Gauge

from producer.tracking.rates import RateWindow
from shared.messages.status_events import Stage, StatusEvent

log = logging.getLogger(__name__)

CLIENTS = Gauge("producer_feed_clients", "Live feed connections open.", registry=REGISTRY)

Frame = dict[str, Any]
CloseReason = Literal["slow", "shutdown"]


def event_frame(event: StatusEvent) -> Frame:
    return {"kind": "event", **event.model_dump(mode="json")}


def _encode(frame: Frame) -> str:
    return json.dumps(frame, separators=(",", ":"))


class FeedFullError(Exception):
    """No room for another client: in this process, or for this caller."""

    def __init__(self, scope: Literal["process", "caller"], limit: int) -> None:
        super().__init__(f"{scope} has {limit} live feed clients already")
        self.scope = scope
        self.limit = limit


class Subscriber:
    """One WebSocket client's frames, already encoded, in order."""

    def __init__(self, buffer: int, caller: str) -> None:
        self._frames: asyncio.Queue[str | None] = asyncio.Queue(buffer)
        self.caller = caller
        self.closed: CloseReason | None = None

    async def next(self) -> str | None:
        """The next frame to send; None once the hub has closed this client."""
        return await self._frames.get()

    def offer(self, text: str) -> bool:
        """Queue a frame without waiting; False when the client is too far behind."""
        if self.closed:
            return True
        try:
            self._frames.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def close(self, reason: CloseReason) -> None:
        """Discard what is pending and leave only the end marker."""
        self.closed = reason
        while not self._frames.empty():
            self._frames.get_nowait()
        self._frames.put_nowait(None)


class FeedHub:
    """Clients, the recent events a new page starts with, totals per stage and rates."""

    def __init__(
        self,
        *,
        recent: int = 200,
        client_buffer: int = 1000,
        max_clients: int = 500,
        max_clients_per_caller: int = 20,
        rates: RateWindow | None = None,
    ) -> None:
        self.client_buffer = client_buffer
        self.max_clients = max_clients
        self.max_clients_per_caller = max_clients_per_caller
        self.dropped_clients = 0
        self.last_stats: Frame | None = None
        self._recent: deque[StatusEvent] = deque(maxlen=recent)
        """Kept as events: a frame is built only for a client to read (most of the time,
        no page is open)."""
        self._totals: Counter[str] = Counter()
        self._rates = rates or RateWindow()
        self._subscribers: set[Subscriber] = set()
        self._per_caller: Counter[str] = Counter()

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    def subscribe(self, caller: str = "anonymous") -> Subscriber:
        """A new client of `caller`; raises FeedFullError when a cap would be passed."""
        if len(self._subscribers) >= self.max_clients:
            raise FeedFullError("process", self.max_clients)
        if self._per_caller[caller] >= self.max_clients_per_caller:
            raise FeedFullError("caller", self.max_clients_per_caller)
        subscriber = Subscriber(self.client_buffer, caller)
        self._subscribers.add(subscriber)
        self._per_caller[caller] += 1
        CLIENTS.set(len(self._subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber not in self._subscribers:
            return
        self._subscribers.remove(subscriber)
        self._per_caller[subscriber.caller] -= 1
        if not self._per_caller[subscriber.caller]:
            del self._per_caller[subscriber.caller]
        CLIENTS.set(len(self._subscribers))

    def totals(self) -> dict[str, int]:
        return {stage.value: self._totals[stage.value] for stage in Stage}

    def rates(self) -> dict[str, float]:
        measured = self._rates.rates()
        return {stage.value: measured.get(stage.value, 0.0) for stage in Stage}

    def hello(self) -> Frame:
        """What a new client is sent first: recent events (oldest first) and the figures."""
        return {
            "kind": "hello",
            "recent": [event_frame(event) for event in self._recent],
            "totals": self.totals(),
            "rates": self.rates(),
            "stats": self.last_stats,
        }

    def publish_event(self, event: StatusEvent) -> None:
        self._recent.append(event)
        self._totals[event.stage.value] += 1
        self._rates.add(event.stage.value)
        if self._subscribers:
            self.broadcast(event_frame(event))

    def publish_stats(self, figures: Frame) -> None:
        """Queue figures, sent with the hub's own totals and rates."""
        frame: Frame = {
            "kind": "stats",
            **figures,
            "totals": self.totals(),
            "rates": self.rates(),
            "clients": self.clients,
            "dropped_clients": self.dropped_clients,
        }
        self.last_stats = frame
        self.broadcast(frame)

    def broadcast(self, frame: Frame) -> None:
        """Encode once, offer to every client; drop those whose queue is full."""
        if not self._subscribers:
            return
        text = _encode(frame)
        for subscriber in list(self._subscribers):
            if not subscriber.offer(text):
                self._drop(subscriber)

    def close(self) -> None:
        """Tell every client the feed is ending (at shutdown)."""
        for subscriber in list(self._subscribers):
            subscriber.close("shutdown")
            self.unsubscribe(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.close("slow")
        self.unsubscribe(subscriber)
        self.dropped_clients += 1
        log.warning(
            "feed client dropped: %d frames behind (dropped so far: %d)",
            self.client_buffer,
            self.dropped_clients,
        )
