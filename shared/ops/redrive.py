"""Sending dead letters back to their source queue, by SQS's move task or a safe move loop.

Redrive prefers SQS's own StartMessageMoveTask. Endpoints without it (moto, older
localstack) get a move loop that is safe by construction: a message is deleted from the
dead-letter queue only after SQS confirmed its copy in the source queue, so a crash or a
failed send can duplicate a message but never lose one.

Like the move task, the loop moves what the dead-letter queue held when it started, once:
at most its depth at the start, and never a body it already moved in this run. A message
that fails again while the redrive runs (its handler still broken) comes back to the
dead-letter queue as a new copy; the loop leaves that copy there rather than send it round
again, so a redrive always ends.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from shared.aws import (
    AwsError,
    EntryFailure,
    OutgoingMessage,
    ReceivedMessage,
    SendResult,
    SqsQueue,
    translate_errors,
)
from shared.aws.batching import send_all, settle_entries
from shared.aws.limits import MAX_BATCH_ENTRIES, SQS_MAX_BATCH_BYTES
from shared.aws.sqs import SERVICE, carried_over
from shared.messages.dead_letter import redrive_attributes

log = logging.getLogger(__name__)

HOLD_SECONDS = 60
"""Visibility of a message being redriven; one that could not be sent reappears after it."""
DEFAULT_RETRY_DELAY = 0.2
"""Scales the pauses between attempts at failed entries; 0 for none."""
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
Stop = Literal["native-task", "empty", "all-moved", "max-messages", "time-limit", "batch-limit"]
"""Why a move loop ended; `all-moved`: every dead letter there at the start was handled."""


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
    bodies: set[bytes] = field(default_factory=set)
    """Digests of the bodies moved in this run: a copy that comes back is not moved again."""
    returned: list[ReceivedMessage] = field(default_factory=list)
    """Copies of messages moved in this run that died again: left in the DLQ."""

    @property
    def handled(self) -> int:
        return self.moved + len(self.failed)


@dataclass(frozen=True)
class Redrive:
    """Moves messages from `dlq` back to `source`."""

    source: SqsQueue
    dlq: SqsQueue
    poll_seconds: int
    hold_seconds: int = HOLD_SECONDS
    retry_delay: float = DEFAULT_RETRY_DELAY

    def run(
        self,
        max_messages: int | None = None,
        *,
        native: bool = True,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> RedriveResult:
        """Native (StartMessageMoveTask) moves everything in the background and keeps each
        message as it is. It cannot stop after `max_messages`, so a limit uses the move
        loop, which also puts back what the dead-letter record displaced (`redrive_attributes`).
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
            log.info("redrive of %s by move loop: %s", self.dlq.name, fallback)
        return self._move_loop(max_messages, time_limit, fallback)

    def _start_move_task(self) -> tuple[str | None, str | None]:
        """The task handle, or None and why the endpoint cannot run a move task."""
        source_arn, dlq_arn = self.source.arn, self.dlq.arn
        try:
            with translate_errors("SQS", self.dlq.name):
                response = self.dlq.client.start_message_move_task(
                    SourceArn=dlq_arn, DestinationArn=source_arn
                )
        except NotImplementedError as exc:  # moto's in-process mock raises this, unanswered
            return None, f"StartMessageMoveTask not supported: {exc}"
        except AwsError as exc:
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
        held = self._depth_at_start()
        bounded_by_depth = held is not None and (limit is None or held <= limit)
        if held is not None:
            limit = held if limit is None else min(limit, held)
        if limit == 0:
            return RedriveResult(method="move-loop", stopped="empty", fallback_reason=fallback)
        deadline = time.monotonic() + time_limit
        max_batches = MAX_BATCHES if limit is None else math.ceil(limit / MAX_BATCH_ENTRIES) + 5
        tally = _Tally()
        stopped: Stop = "batch-limit"
        for _ in range(min(max_batches, MAX_BATCHES)):
            wanted = (
                MAX_BATCH_ENTRIES
                if limit is None
                else min(MAX_BATCH_ENTRIES, limit - tally.handled)
            )
            if wanted <= 0:
                stopped = "all-moved" if bounded_by_depth else "max-messages"
                break
            if time.monotonic() >= deadline:
                stopped = "time-limit"
                break
            batch = self.dlq.receive(
                max_messages=wanted,
                wait_time_seconds=self.poll_seconds,
                visibility_timeout=self.hold_seconds,
            )
            if not batch:
                stopped = "empty"
                break
            fresh = self._first_seen(batch, tally)
            if fresh:
                self._move_batch(fresh, tally)
            log.debug(
                "redrive %s: %d moved, %d failed", self.dlq.name, tally.moved, len(tally.failed)
            )
        self._leave(tally.returned)
        log.info(
            "redrive %s -> %s: %d moved, %d failed, %d came back and were left (%s)",
            self.dlq.name,
            self.source.name,
            tally.moved,
            len(tally.failed),
            len(tally.returned),
            stopped,
        )
        return RedriveResult(
            moved=tally.moved,
            failed=len(tally.failed),
            duplicates=tally.duplicates,
            method="move-loop",
            stopped=stopped,
            fallback_reason=fallback,
        )

    def _depth_at_start(self) -> int | None:
        """How many dead letters wait now; None when the queue cannot say."""
        try:
            return self.dlq.depth().visible
        except AwsError as exc:
            log.info("depth of %s unknown (%s): moving until it is empty", self.dlq.name, exc)
            return None

    def _first_seen(self, batch: Sequence[ReceivedMessage], tally: _Tally) -> list[ReceivedMessage]:
        """The messages whose bodies this run has not moved yet; the rest are set aside."""
        fresh = []
        for message in batch:
            digest = hashlib.sha256(message.body.encode()).digest()
            if digest in tally.bodies:
                tally.returned.append(message)
            else:
                tally.bodies.add(digest)
                fresh.append(message)
        return fresh

    def _leave(self, messages: Sequence[ReceivedMessage]) -> None:
        """Make the copies set aside visible again in the dead-letter queue at once."""
        failed = 0
        for start in range(0, len(messages), MAX_BATCH_ENTRIES):
            chunk = messages[start : start + MAX_BATCH_ENTRIES]
            failed += len(self.dlq.change_visibility([(m.receipt_handle, 0) for m in chunk]))
        if failed:
            log.info("%d dead letters stay hidden until their hold ends", failed)

    def _move_batch(self, batch: Sequence[ReceivedMessage], tally: _Tally) -> None:
        """Send, then delete from the dead-letter queue only what the source confirmed."""

        copies = [
            carried_over(
                OutgoingMessage(str(index), m.body, redrive_attributes(m.body, m.attributes)),
                m,
                fifo=self.source.fifo,
            )
            for index, m in enumerate(batch)
        ]
        # Kept within the source's size limit per call, as the consumer's dead-letter sends:
        # ten large dead letters never make one refused batch.
        results = send_all(
            self.source.send_batch,
            copies,
            service=SERVICE,
            max_batch_bytes=min(SQS_MAX_BATCH_BYTES, self.source.max_message_size()),
            pause=self._pause,
        )
        unsent = [
            m
            for index, m in enumerate(batch)
            if not isinstance(results.get(str(index)), SendResult)
        ]
        for message in unsent:
            tally.failed.add(message.message_id)
            log.warning("not redriven, left in %s: %s", self.dlq.name, message.message_id)
        sent = [message for message in batch if message not in unsent]
        tally.moved += len(sent)

        def delete(chunk: Sequence[ReceivedMessage]) -> list[EntryFailure]:
            return self.dlq.delete_batch([message.receipt_handle for message in chunk])

        for message in settle_entries(delete, sent, "redrive delete", pause=self._pause):
            tally.duplicates += 1
            log.warning(
                "redriven but not deleted from %s, it will come again: %s",
                self.dlq.name,
                message.message_id,
            )

    def _pause(self, seconds: float) -> None:
        time.sleep(seconds * self.retry_delay / DEFAULT_RETRY_DELAY)


def _unsupported(cause: BaseException | None) -> str | None:
    """How the endpoint said it does not implement the call; None when it refused it."""
    if not isinstance(cause, ClientError):
        return None
    code = cause.response.get("Error", {}).get("Code", "")
    status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _UNSUPPORTED_CODES or status >= 500:
        return f"{code or 'no code'}, HTTP {status}"
    return None
