"""Reading the events queue: consumers' status events, packed many to an SQS message.

One receive brings up to ten bodies of many events each, so following every message costs
a few requests a second at most. A body that is not a list of events is logged, counted and
deleted: it can never become readable, and leaving it would bring it back forever.

With `SQS_EVENTS_SECRET` set, only bodies a consumer signed with it are believed: anyone
else who may send to the events queue could otherwise write any message's status. A body
with a missing or wrong signature is dropped the same way, counted as forged, and logged
without its content, which is not to be trusted even in a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from prometheus_client import REGISTRY, Counter
from pydantic import SecretStr, ValidationError

from shared.aws import AwsError, ReceivedMessage, SqsQueue
from shared.aws.backoff import error_backoff
from shared.aws.limits import MAX_BATCH_ENTRIES
from shared.messages import event_bodies
from shared.messages.event_bodies import EventBodyError
from shared.messages.event_signing import SIGNATURE_ATTRIBUTE, verify
from shared.messages.status_events import StatusEvent

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 5
"""Longest long poll: an empty receive every 5 s costs next to nothing, and events received
by a poll abandoned at shutdown come back to the next reader within the visibility timeout."""
IDLE_PAUSE_SECONDS = 1.0
"""Pause after an empty receive when long polling is off, so the loop does not spin."""
PACE_SECONDS = 1.0
"""Least time from one receive's start to the next's, unless the last one came back full:
bodies gather meanwhile, so the reader makes about one receive and one delete a second
however often consumers publish, and a backlog is still read at once."""
BODY_PREVIEW = 200

DROPPED_BODIES = Counter(
    "producer_status_bodies_dropped",
    "Events-queue bodies dropped unread: malformed (not a list of events) or forged "
    "(missing or wrong signature while SQS_EVENTS_SECRET is set).",
    ["reason"],
    registry=REGISTRY,
)

EventSink = Callable[[Sequence[StatusEvent]], object]
T = TypeVar("T")


async def in_daemon_thread(call: Callable[[], T]) -> T:
    """Run a blocking call in a thread of its own that nobody waits for at exit.

    The default executor's threads are joined when the loop and the interpreter end, so a
    long poll in flight would hold up every shutdown by up to its wait time.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle() -> None:
        try:
            outcome: tuple[Callable[[Any], None], Any] = (future.set_result, call())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            outcome = (future.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_unless_cancelled, future, *outcome)

    threading.Thread(target=settle, name="events-reader", daemon=True).start()
    return await future


def _unless_cancelled(future: asyncio.Future[T], setter: Callable[[Any], None], value: Any) -> None:
    if not future.done():
        setter(value)


@dataclass
class ReaderCounts:
    receives: int = 0
    """Receives that brought bodies (each followed by one delete)."""
    bodies: int = 0
    events: int = 0
    malformed: int = 0
    forged: int = 0
    """Bodies dropped for a missing or wrong signature."""
    errors: int = 0


class EventsReader:
    """Long-polls `queue`, hands each batch of events to `sink`, then deletes the bodies."""

    def __init__(
        self,
        queue: SqsQueue,
        sink: EventSink,
        *,
        wait_seconds: int = MAX_WAIT_SECONDS,
        backoff_max_seconds: float = 30.0,
        rng: random.Random | None = None,
        secret: SecretStr | None = None,
        pace_seconds: float = PACE_SECONDS,
    ) -> None:
        """With `secret`, only bodies signed with it are read; without, every body is."""
        self.queue = queue
        self.pace_seconds = pace_seconds
        self.secret = secret
        self.sink = sink
        self.wait_seconds = min(wait_seconds, MAX_WAIT_SECONDS)
        self.backoff_max_seconds = backoff_max_seconds
        self.counts = ReaderCounts()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Read until stopped; an error pauses the loop with jittered backoff, never ends it."""
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            try:
                received = await self.poll_once()
            except AwsError as exc:
                failures += 1
                self.counts.errors += 1
                delay = error_backoff(failures, self.backoff_max_seconds, self._rng)
                log.warning("events queue %s: %s; next try in %.1fs", self.queue.name, exc, delay)
                await self._pause(delay)
                continue
            except Exception:  # a bug in one batch must not end the feed
                failures += 1
                self.counts.errors += 1
                log.exception("events queue %s: unexpected error", self.queue.name)
                await self._pause(error_backoff(failures, self.backoff_max_seconds, self._rng))
                continue
            failures = 0
            if not received and self.wait_seconds == 0:
                await self._pause(IDLE_PAUSE_SECONDS)
            elif 0 < received < MAX_BATCH_ENTRIES:
                await self._pause(started + self.pace_seconds - loop.time())

    async def poll_once(self) -> int:
        """One receive: parse, hand over, delete. Returns how many bodies it received."""
        messages = await in_daemon_thread(
            partial(
                self.queue.receive,
                max_messages=MAX_BATCH_ENTRIES,
                wait_time_seconds=self.wait_seconds,
            )
        )
        if not messages:
            return 0
        events = [event for message in messages for event in self._parse(message)]
        self.counts.receives += 1
        self.counts.bodies += len(messages)
        self.counts.events += len(events)
        if events:
            self.sink(events)
        await self._delete(messages)
        return len(messages)

    def _parse(self, message: ReceivedMessage) -> list[StatusEvent]:
        if self.secret is not None and not self._signed(message, self.secret):
            return []
        try:
            return event_bodies.read(message.body)
        except (ValidationError, EventBodyError) as exc:
            self.counts.malformed += 1
            DROPPED_BODIES.labels("malformed").inc()
            why = f"{exc.error_count()} errors" if isinstance(exc, ValidationError) else str(exc)
            log.warning(
                "events queue %s: dropped a body that is not a list of events (%s): %.*s",
                self.queue.name,
                why,
                BODY_PREVIEW,
                message.body,
            )
            return []

    def _signed(self, message: ReceivedMessage, secret: SecretStr) -> bool:
        """Whether the body carries its signature under `secret`; counts and logs it if not."""
        signature = message.text_attribute(SIGNATURE_ATTRIBUTE)
        if verify(message.body, signature, secret):
            return True
        self.counts.forged += 1
        DROPPED_BODIES.labels("forged").inc()
        log.warning(
            "events queue %s: dropped body %s: %s signature",
            self.queue.name,
            message.message_id,
            "no" if not signature else "a wrong",
        )
        return False

    async def _delete(self, messages: Sequence[ReceivedMessage]) -> None:
        handles = [message.receipt_handle for message in messages]
        failures = await asyncio.to_thread(self.queue.delete_batch, handles)
        for failure in failures:
            log.warning(  # it comes back once hidden no more; its events are then duplicates
                "events queue %s: not deleted (%s): %s",
                self.queue.name,
                failure.code,
                failure.message,
            )

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
