"""Coalescing concurrent single sends into batch calls: SendMessageBatch or PublishBatch.

Each request still gets its own answer, with its real MessageId or its real error, but
under load ten messages share one request. A batch goes out when it holds ten messages,
when one more would pass the destination's size limit, or when its first message has
waited `window` seconds, so a lone message is delayed by that window at most.

Under load a round trip to SQS is longer than the window, so a batch that is due while
sends are in flight waits for them to return, and one window more for the clients they
answered to send again (group commit), gathering the messages that arrive meanwhile;
`max_wait` bounds that wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shared.aws import AwsError, OutgoingMessage, SendResult
from shared.aws.limits import MAX_BATCH_ENTRIES

log = logging.getLogger(__name__)

SendEntries = Callable[[Sequence[OutgoingMessage]], Mapping[str, SendResult | AwsError]]
"""Blocking: send these entries (at most ten, within the size limit) and answer for each id."""


@dataclass
class _Pending:
    messages: list[OutgoingMessage] = field(default_factory=list)
    waiters: list[asyncio.Future[SendResult]] = field(default_factory=list)
    size: int = 0


class SendBatcher:
    """Runs in the app's event loop; batch calls run in threads, `max_in_flight` at a time.

    `size_limit` (blocking, asked once) is the most bytes one batch may carry.
    """

    def __init__(
        self,
        send_entries: SendEntries,
        *,
        service: str,
        size_limit: Callable[[], int],
        window: float,
        max_in_flight: int,
        max_wait: float | None = None,
    ) -> None:
        self.send_entries = send_entries
        self.service = service
        self.size_limit = size_limit
        self.window = window
        self.max_wait = max(window, 0.05) if max_wait is None else max_wait
        self._limit: int | None = None
        self._asking: asyncio.Future[int] | None = None
        self._pending = _Pending()
        self._timer: asyncio.TimerHandle | None = None
        self._backstop: asyncio.TimerHandle | None = None
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._sending = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Queue `message` for the next batch; raises the AwsError that kept it out."""
        limit = await self._size_limit()
        if self._pending.messages and self._pending.size + message.size > limit:
            self._flush()
        waiter: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        self._pending.messages.append(message)
        self._pending.waiters.append(waiter)
        self._pending.size += message.size
        if len(self._pending.messages) >= MAX_BATCH_ENTRIES:
            self._flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.window, self._window_passed)
            if self._backstop is None:  # counted from the batch's first message
                self._backstop = loop.call_later(self.max_wait, self._flush)
        return await waiter

    async def close(self) -> None:
        """Send what is pending and wait for every batch in flight."""
        self._flush()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _size_limit(self) -> int:
        """Asked once: senders arriving while it is being asked wait for the same answer. A
        failure is everyone's who waited; the next sender asks again."""
        if self._limit is not None:
            return self._limit
        if self._asking is None:
            self._asking = asyncio.ensure_future(asyncio.to_thread(self.size_limit))
        asking = self._asking
        try:
            self._limit = await asyncio.shield(asking)
        except Exception:
            if self._asking is asking and asking.done():
                self._asking = None
            raise
        return self._limit

    def _window_passed(self) -> None:
        """Send now, unless a send in flight will return soon with room for a fuller batch."""
        self._timer = None
        if self._sending == 0:
            self._flush()

    def _flush(self) -> None:
        for timer in (self._timer, self._backstop):
            if timer is not None:
                timer.cancel()
        self._timer = self._backstop = None
        if not self._pending.messages:
            return
        pending, self._pending = self._pending, _Pending()
        task = asyncio.create_task(self._send(pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, pending: _Pending) -> None:
        try:
            async with self._in_flight:
                self._sending += 1
                try:
                    results = await asyncio.to_thread(self.send_entries, pending.messages)
                except Exception as exc:  # noqa: BLE001 - every waiter must get an answer
                    for waiter in pending.waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    return
                finally:
                    self._sending -= 1
            self._answer(pending, results)
        finally:
            self._last_window()

    def _answer(self, pending: _Pending, results: Mapping[str, SendResult | AwsError]) -> None:
        for message, waiter in zip(pending.messages, pending.waiters, strict=True):
            result = results.get(message.id) or AwsError(
                f"no result for {message.id}", self.service
            )
            if waiter.done():
                continue
            if isinstance(result, SendResult):
                waiter.set_result(result)
            else:
                waiter.set_exception(result)

    def _last_window(self) -> None:
        """A batch whose window passed while sends were in flight goes out one window after
        the last returns, not at once: the clients that send just answered come back with
        their next messages within it, and ride along rather than wait for the next call."""
        if self._timer is None and self._pending.messages and self._sending == 0:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._window_passed)
