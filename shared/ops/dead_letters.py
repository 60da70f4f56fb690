"""The dead-letter queue for operators: count, look without consuming, redrive, purge.

Queue URLs and ARNs are always asked of SQS, never built from an account id.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from shared.aws import AwsError, QueueDepth, ReceivedMessage, SqsQueue, build_client
from shared.aws.limits import MAX_BATCH_ENTRIES
from shared.messages.dead_letter import DeadLetter
from shared.ops.redrive import (
    DEFAULT_RETRY_DELAY,
    DEFAULT_TIME_LIMIT,
    HOLD_SECONDS,
    Redrive,
    RedriveResult,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

log = logging.getLogger(__name__)

PEEK_HIDE_SECONDS = 30
"""Peeked messages are hidden this long at most: released at once, or back by themselves."""
MAX_POLL_SECONDS = 1


class DeadLetters:
    """The dead-letter queue `dlq` of the queue `source`, for operators."""

    def __init__(
        self,
        source: SqsQueue,
        dlq: SqsQueue,
        *,
        poll_seconds: int = MAX_POLL_SECONDS,
        hold_seconds: int = HOLD_SECONDS,
        retry_delay: float = DEFAULT_RETRY_DELAY,
    ) -> None:
        self.source = source
        self.dlq = dlq
        self.poll_seconds = poll_seconds
        """A short long-poll: unlike a 0-second poll it asks every SQS server, so an empty
        answer really means empty; it costs this long once, at the end."""
        self._redrive = Redrive(source, dlq, poll_seconds, hold_seconds, retry_delay)

    @classmethod
    def from_settings(cls, settings: Settings, client: SQSClient | None = None) -> DeadLetters:
        """Both queues over one boto3 client: `client`, or one built from settings."""
        client = client or build_client("sqs", settings)
        return cls(
            SqsQueue(client, settings.sqs.queue_name),
            SqsQueue(client, settings.sqs.dlq_name),
            poll_seconds=min(settings.sqs.wait_time_seconds, MAX_POLL_SECONDS),
        )

    @property
    def name(self) -> str:
        return self.dlq.name

    def depth(self) -> QueueDepth:
        return self.dlq.depth()

    def count(self) -> int:
        """Messages waiting in the dead-letter queue (SQS's approximate count)."""
        return self.depth().visible

    def peek(self, limit: int = 10) -> list[DeadLetter]:
        """Up to `limit` dead letters, left in the queue.

        Messages are received hidden (so successive receives page through distinct ones),
        then handed back at once. Each peek adds one to their receive count in the
        dead-letter queue, which has no redrive policy, so nothing moves.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        seen: dict[str, ReceivedMessage] = {}
        held: list[str] = []
        try:
            for _ in range(math.ceil(limit / MAX_BATCH_ENTRIES) + 2):
                batch = self.dlq.receive(
                    max_messages=min(MAX_BATCH_ENTRIES, limit - len(seen)),
                    wait_time_seconds=self.poll_seconds,
                    visibility_timeout=PEEK_HIDE_SECONDS,
                )
                held.extend(message.receipt_handle for message in batch)
                new = [message for message in batch if message.message_id not in seen]
                seen.update((message.message_id, message) for message in new)
                if not new or len(seen) >= limit:
                    break
        finally:
            self._release(held)
        return [DeadLetter.from_message(message) for message in seen.values()][:limit]

    def redrive(
        self,
        max_messages: int | None = None,
        *,
        native: bool = True,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> RedriveResult:
        """Send dead letters back to the source queue (see `shared.ops.redrive`)."""
        return self._redrive.run(max_messages, native=native, time_limit=time_limit)

    def purge(self) -> None:
        """Delete every message of the dead-letter queue; the source queue is not touched."""
        self.dlq.purge()
        log.warning("purged dead-letter queue %s", self.name)

    def _release(self, receipt_handles: list[str]) -> None:
        """Make peeked messages visible again; any left hidden come back after the peek hold."""
        for start in range(0, len(receipt_handles), MAX_BATCH_ENTRIES):
            chunk = receipt_handles[start : start + MAX_BATCH_ENTRIES]
            try:
                failures = self.dlq.change_visibility([(handle, 0) for handle in chunk])
            except AwsError as exc:
                log.warning(
                    "could not release peeked messages (back in %ss): %s", PEEK_HIDE_SECONDS, exc
                )
                return
            for failure in failures:
                log.warning("peeked message not released: %s", failure.message)
