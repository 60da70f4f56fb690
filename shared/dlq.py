"""Dead-letter queue operations for operators: count, look without consuming, redrive, purge.

Redrive prefers SQS's own StartMessageMoveTask. Endpoints without it (moto, older
localstack) get a move loop that is safe by construction: a message is deleted from the
dead-letter queue only after SQS confirmed its copy in the source queue, so a crash or a
failed send can duplicate a message but never lose one. Queue URLs and ARNs are always
asked of SQS, never built from an account id.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from shared.aws import build_sqs_client
from shared.batching import settle_entries
from shared.dead_letter import DeadLetter, Reason, redrive_attributes
from shared.errors import SqsError
from shared.sqs import (
    EntryFailure,
    OutgoingMessage,
    ReceivedMessage,
    SqsQueue,
    carried_over,
    translate_errors,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

log = logging.getLogger(__name__)

BATCH = 10
"""SQS's most messages per receive, send or delete call."""
PEEK_HIDE_SECONDS = 30
"""Peeked messages are hidden this long at most: released at once, or back by themselves."""
HOLD_SECONDS = 60
"""Visibility of a message being redriven; one that could not be sent reappears after it."""
DEFAULT_RETRY_DELAY = 0.2
"""Scales the pauses between attempts at failed entries; 0 for none."""
MAX_POLL_SECONDS = 1
MAX_BATCHES = 10_000
"""Hard cap on receives per redrive (100,000 messages), whatever else holds."""
DEFAULT_TIME_LIMIT = 300.0

_UNSUPPORTED_CODES = frozenset(
    {
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidAction",
        "UnknownOperation",
        "UnknownOperationException",
        "NotImplemented",
    }
)

Method = Literal["native", "move-loop"]
Stop = Literal["native-task", "empty", "max-messages", "time-limit", "batch-limit"]


class QueueDepth(BaseModel):
    """Approximate message counts: `visible` can be received now, `in_flight` is held."""

    model_config = ConfigDict(frozen=True)

    visible: int
    in_flight: int


class RedriveResult(BaseModel):
    """What a redrive did. A native task runs on in SQS: its counts stay 0, see `task_handle`."""

    model_config = ConfigDict(frozen=True)

    moved: int = 0
    failed: int = 0
    """Messages left in the dead-letter queue because SQS refused their send."""
    duplicates: int = 0
    """Sent to the source but not deleted here: they will be redriven (delivered) again."""
    method: Method
    stopped: Stop
    task_handle: str | None = None
    fallback_reason: str | None = None
    """Why the native move task was not used, when it was asked for."""


@dataclass
class _Tally:
    moved: int = 0
    failed: set[str] = field(default_factory=set)
    duplicates: int = 0

    @property
    def handled(self) -> int:
        return self.moved + len(self.failed)


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
        self.hold_seconds = hold_seconds
        self.retry_delay = retry_delay

    @classmethod
    def from_settings(cls, settings: Settings, client: SQSClient | None = None) -> DeadLetters:
        """Both queues over one boto3 client: `client`, or one built from settings."""
        client = client or build_sqs_client(settings)
        return cls(
            SqsQueue(client, settings.sqs.queue_name),
            SqsQueue(client, settings.sqs.dlq_name),
            poll_seconds=min(settings.sqs.wait_time_seconds, MAX_POLL_SECONDS),
        )

    @property
    def name(self) -> str:
        return self.dlq.name

    def depth(self) -> QueueDepth:
        values = self.dlq.attributes(
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
        )
        return QueueDepth(
            visible=int(values.get("ApproximateNumberOfMessages", "0")),
            in_flight=int(values.get("ApproximateNumberOfMessagesNotVisible", "0")),
        )

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
            for _ in range(math.ceil(limit / BATCH) + 2):
                wanted = min(BATCH, limit - len(seen))
                batch = self.dlq.receive_with_visibility(
                    max_messages=wanted,
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
        """Send dead letters back to the source queue.

        Native (StartMessageMoveTask) moves everything in the background and keeps each
        message as it is. It cannot stop after `max_messages`, so a limit uses the move
        loop, which also rebuilds the original attributes (`redrive_attributes`).
        """
        if max_messages is not None and max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        fallback: str | None = None
        if native and max_messages is not None:
            fallback = "max_messages needs the move loop: a native task moves everything"
        elif native:
            handle, fallback = self._start_move_task()
            if handle is not None:
                return RedriveResult(method="native", stopped="native-task", task_handle=handle)
        if fallback:
            log.warning("redrive of %s by move loop: %s", self.name, fallback)
        return self._move_loop(max_messages, time_limit, fallback)

    def purge(self) -> None:
        """Delete every message of the dead-letter queue; the source queue is not touched."""
        self.dlq.purge()
        log.warning("purged dead-letter queue %s", self.name)

    def _start_move_task(self) -> tuple[str | None, str | None]:
        """The task handle, or None and why the endpoint cannot run a move task."""
        source_arn, dlq_arn = self.source.arn, self.dlq.arn
        try:
            with translate_errors(self.dlq.name):
                response = self.dlq.client.start_message_move_task(
                    SourceArn=dlq_arn, DestinationArn=source_arn
                )
        except NotImplementedError as exc:  # moto's in-process mock raises this, unanswered
            return None, f"StartMessageMoveTask not supported: {exc}"
        except SqsError as exc:
            why = _unsupported(exc.__cause__)
            if why is None:
                raise
            return None, f"StartMessageMoveTask not supported ({why})"
        log.info(
            "native move task %s started: %s -> %s", response["TaskHandle"], dlq_arn, source_arn
        )
        return response["TaskHandle"], None

    def _move_loop(
        self, limit: int | None, time_limit: float, fallback: str | None
    ) -> RedriveResult:
        deadline = time.monotonic() + time_limit
        max_batches = MAX_BATCHES if limit is None else math.ceil(limit / BATCH) + 5
        tally = _Tally()
        stopped: Stop = "batch-limit"
        for _ in range(min(max_batches, MAX_BATCHES)):
            wanted = BATCH if limit is None else min(BATCH, limit - tally.handled)
            if wanted <= 0:
                stopped = "max-messages"
                break
            if time.monotonic() >= deadline:
                stopped = "time-limit"
                break
            batch = self.dlq.receive_with_visibility(
                max_messages=wanted,
                wait_time_seconds=self.poll_seconds,
                visibility_timeout=self.hold_seconds,
            )
            if not batch:
                stopped = "empty"
                break
            self._move_batch(batch, tally)
            log.info("redrive %s: %d moved, %d failed", self.name, tally.moved, len(tally.failed))
        return RedriveResult(
            moved=tally.moved,
            failed=len(tally.failed),
            duplicates=tally.duplicates,
            method="move-loop",
            stopped=stopped,
            fallback_reason=fallback,
        )

    def _move_batch(self, batch: Sequence[ReceivedMessage], tally: _Tally) -> None:
        """Send, then delete from the dead-letter queue only what the source confirmed."""

        def send(chunk: Sequence[ReceivedMessage]) -> list[EntryFailure]:
            result = self.source.send_raw_batch(
                [
                    carried_over(
                        OutgoingMessage(
                            str(index), m.body, redrive_attributes(m.body, m.attributes)
                        ),
                        m,
                        self.source,
                    )
                    for index, m in enumerate(chunk)
                ]
            )
            answered = {ok.envelope_id for ok in result.sent} | {f.entry_id for f in result.failed}
            unanswered = [  # neither sent nor failed: not known to be stored, so not moved
                EntryFailure(str(index), "NoResult", "no result from SendMessageBatch", False)
                for index in range(len(chunk))
                if str(index) not in answered
            ]
            return result.failed + unanswered

        unsent = settle_entries(send, batch, "redrive send", pause=self._pause)
        for message in unsent:
            tally.failed.add(message.message_id)
            log.warning("not redriven, left in %s: %s", self.name, message.message_id)
        sent = [message for message in batch if message not in unsent]
        tally.moved += len(sent)

        def delete(chunk: Sequence[ReceivedMessage]) -> list[EntryFailure]:
            return self.dlq.delete_batch([message.receipt_handle for message in chunk])

        for message in settle_entries(delete, sent, "redrive delete", pause=self._pause):
            tally.duplicates += 1
            log.warning(
                "redriven but not deleted from %s, it will come again: %s",
                self.name,
                message.message_id,
            )

    def _pause(self, seconds: float) -> None:
        time.sleep(seconds * self.retry_delay / DEFAULT_RETRY_DELAY)

    def _release(self, receipt_handles: list[str]) -> None:
        """Make peeked messages visible again; any left hidden come back after the peek hold."""
        for start in range(0, len(receipt_handles), BATCH):
            try:
                failures = self.dlq.change_visibility_batch(
                    receipt_handles[start : start + BATCH], 0
                )
            except SqsError as exc:
                log.warning(
                    "could not release peeked messages (back in %ss): %s", PEEK_HIDE_SECONDS, exc
                )
                return
            for failure in failures:
                log.warning("peeked message not released: %s", failure.message)


def _unsupported(cause: BaseException | None) -> str | None:
    """How the endpoint said it does not implement the call; None when it refused it."""
    if not isinstance(cause, ClientError):
        return None
    code = cause.response.get("Error", {}).get("Code", "")
    status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _UNSUPPORTED_CODES or status >= 500:
        return f"{code or 'no code'}, HTTP {status}"
    return None


__all__ = ["DeadLetter", "DeadLetters", "QueueDepth", "Reason", "RedriveResult"]
