"""Sending status events to the events topic (or queue), packed many to a message, in the
background.

A handler must never wait for the live feed: `publish` only appends to a bounded buffer. As
a background chore it sends what gathered every `interval` (a second), many events per SQS
message (`shared.messages.event_bodies`), so the feed costs one request a second whatever
the message rate. When the events queue is down the oldest events are dropped (and counted)
rather than letting the buffer grow: status is news, and the messages themselves are never
affected. With `SQS_EVENTS_SECRET` set each body is signed (`shared.messages.event_signing`),
and the producer drops what is not.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

from pydantic import SecretStr
from typing_extensions import override

from consumer.chores import Chore
from consumer.metrics import Metrics
from shared.aws import AwsError, OutgoingMessage, SqsQueue
from shared.aws.batching import unsettled
from shared.aws.limits import MAX_BATCH_ENTRIES
from shared.aws.sns import SnsTopic
from shared.messages.event_bodies import Packed, pack
from shared.messages.event_signing import signature_attributes
from shared.messages.status_events import StatusEvent

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 3
"""Flushes that try a body before its events are dropped."""


class EventPublisher(Chore):
    """As a chore it sends what gathered every `interval` seconds, and the rest at the end."""

    name = "status-events"

    def __init__(
        self,
        destination: SqsQueue | SnsTopic,
        metrics: Metrics,
        *,
        interval: float = 1.0,
        capacity: int = 10_000,
        secret: SecretStr | None = None,
    ) -> None:
        """Sends to the events topic, or to the events queue when there is none. With
        `secret`, every body is signed, so the producer can tell it came from here."""
        super().__init__()
        self.destination = destination
        self.secret = secret
        self.metrics = metrics
        self.period = interval
        self._buffer: deque[StatusEvent] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._failures = 0

    def publish(self, event: StatusEvent) -> None:
        """Never blocks; a full buffer loses its oldest event."""
        with self._lock:
            if len(self._buffer) == self._buffer.maxlen:
                self.metrics.status_events.labels("dropped").inc()
            self._buffer.append(event)

    @override
    def run(self) -> None:
        self.flush()

    @override
    def finish(self) -> None:
        self.flush()

    def flush(self) -> None:
        with self._lock:
            events = list(self._buffer)
            self._buffer.clear()
        if not events:
            return
        packed = list(pack(events))
        for start in range(0, len(packed), MAX_BATCH_ENTRIES):
            self._send(packed[start : start + MAX_BATCH_ENTRIES])

    def _send(self, packed: Sequence[Packed]) -> None:
        bodies = [events for events, _ in packed]
        texts = [text for _, text in packed]
        messages = [
            OutgoingMessage(str(index), text, signature_attributes(text, self.secret))
            for index, text in enumerate(texts)
        ]
        try:
            result = self.destination.send_batch(messages)
            failed = {f.entry_id for f in unsettled(result, len(messages))}
        except AwsError as exc:
            failed = {m.id for m in messages}
            if self._failures == 0:
                log.warning("status events not sent (%s); the live feed will have gaps", exc)
        self._failures = self._failures + 1 if failed else 0
        sent = sum(len(b) for i, b in enumerate(bodies) if str(i) not in failed)
        self.metrics.status_events.labels("sent").inc(sent)
        unsent = [e for i, b in enumerate(bodies) if str(i) in failed for e in b]
        if unsent and self._failures < SEND_ATTEMPTS:
            self._requeue(unsent)
        else:
            self.metrics.status_events.labels("dropped").inc(len(unsent))

    def _requeue(self, events: Sequence[StatusEvent]) -> None:
        """Put unsent events back in front of newer ones, within the buffer's capacity."""
        with self._lock:
            room = (self._buffer.maxlen or 0) - len(self._buffer)
            keep = list(events)[-room:] if room > 0 else []
            self.metrics.status_events.labels("dropped").inc(len(events) - len(keep))
            self._buffer.extendleft(reversed(keep))
