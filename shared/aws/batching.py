"""Batch calls whose entries can fail one by one: run them ten at a time, retry what failed.

SQS and SNS answer a batch call with per-entry results. Whatever they failed on their own
side is worth another try; what it blames on the request (a sender fault, such as an expired
receipt handle) is not. Callers learn which entries are left so they never assume success.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from shared.aws.entries import BatchSendResult, EntryFailure, OutgoingMessage, SendResult
from shared.aws.errors import AwsError, AwsRequestError, AwsUnavailableError
from shared.aws.limits import MAX_BATCH_ENTRIES

log = logging.getLogger(__name__)

ATTEMPTS = 3
T = TypeVar("T")


def settle_entries(
    call: Callable[[Sequence[T]], list[EntryFailure]],
    items: Sequence[T],
    what: str,
    *,
    attempts: int = ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> list[T]:
    """Run a batch call over `items` ten at a time, retrying failed entries; returns the
    items that still failed. Entries blamed on the request (sender faults) are not retried.
    """
    pending = list(items)
    given_up: list[T] = []
    for attempt in range(1, attempts + 1):
        if not pending:
            break
        retry: list[T] = []
        for start in range(0, len(pending), MAX_BATCH_ENTRIES):
            chunk = pending[start : start + MAX_BATCH_ENTRIES]
            try:
                failures = call(chunk)
            except AwsError as exc:
                log.warning(
                    "%s of %d entries failed (attempt %d): %s", what, len(chunk), attempt, exc
                )
                retry.extend(chunk)
                continue
            for failure in failures:
                item = chunk[int(failure.entry_id)]
                log.warning("%s entry failed: %s %s", what, failure.code, failure.message)
                (given_up if failure.sender_fault else retry).append(item)
        pending = retry
        if pending and attempt < attempts:
            pause(0.1 * 2**attempt)
    return given_up + pending


def chunk_by_size(
    messages: Sequence[OutgoingMessage], max_bytes: int
) -> list[list[OutgoingMessage]]:
    """Split into batches of at most ten messages and `max_bytes` in all, keeping order."""
    chunks: list[list[OutgoingMessage]] = []
    current: list[OutgoingMessage] = []
    size = 0
    for message in messages:
        if current and (len(current) == MAX_BATCH_ENTRIES or size + message.size > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(message)
        size += message.size
    if current:
        chunks.append(current)
    return chunks


def unsettled(result: BatchSendResult, count: int) -> list[EntryFailure]:
    """The failed entries of a send of `count` messages (entry ids "0", "1", ...), and those
    the answer names neither as sent nor as failed: not known to be stored."""
    answered = {ok.entry_id for ok in result.sent} | {f.entry_id for f in result.failed}
    return result.failed + [
        EntryFailure(str(i), "NoResult", "no result from the batch call", False)
        for i in range(count)
        if str(i) not in answered
    ]


def send_all(
    send_batch: Callable[[Sequence[OutgoingMessage]], BatchSendResult],
    messages: Sequence[OutgoingMessage],
    *,
    service: str,
    max_batch_bytes: int | None = None,
    attempts: int = ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> dict[str, SendResult | AwsError]:
    """Send in as few batch calls as the limits allow, retrying failed entries.

    `send_batch` is one SendMessageBatch or PublishBatch call (`SqsQueue.send_batch`,
    `SnsTopic.send_batch`), `service` names it in errors; `max_batch_bytes` unset means the
    messages are known to fit. A batch refused as a whole is sent again one message a call,
    so one entry's fault never keeps the others out. Returns, for every message id, its
    SendResult or the error that kept it out: AwsRequestError for what was refused,
    AwsUnavailableError for what kept failing.
    """
    results: dict[str, SendResult | AwsError] = {}

    def send(chunk: Sequence[OutgoingMessage]) -> list[EntryFailure]:
        try:
            result = send_batch([replace(m, id=str(i)) for i, m in enumerate(chunk)])
        except AwsRequestError as exc:
            if len(chunk) == 1:  # the same request would be refused again: no retry
                results[chunk[0].id] = exc
                return [EntryFailure("0", exc.code, exc.reason, sender_fault=True)]
            # Refused as a whole (too long, say): whichever entry is to blame, the others
            # must not stay out with it, so each goes again alone.
            log.warning(
                "%s refused a batch of %d (%s); sending each alone", service, len(chunk), exc
            )
            return [
                replace(failure, entry_id=str(index))
                for index, message in enumerate(chunk)
                for failure in alone(message)
            ]
        except AwsError as exc:
            results.update((m.id, exc) for m in chunk)
            raise
        for ok in result.sent:
            message_id = chunk[int(ok.entry_id)].id
            results[message_id] = SendResult(message_id, ok.message_id)
        failures = unsettled(result, len(chunk))
        for failure in failures:
            results[chunk[int(failure.entry_id)].id] = _entry_error(failure, service)
        return failures

    def alone(message: OutgoingMessage) -> list[EntryFailure]:
        try:
            return send([message])
        except AwsError as exc:  # left for the next attempt, with whatever else failed
            return [EntryFailure("0", "Unavailable", str(exc), sender_fault=False)]

    limit = max_batch_bytes if max_batch_bytes is not None else sum(m.size for m in messages)
    for chunk in chunk_by_size(messages, limit):
        settle_entries(send, chunk, "send", attempts=attempts, pause=pause)
    return results


def _entry_error(failure: EntryFailure, service: str) -> AwsError:
    if failure.sender_fault:
        return AwsRequestError(failure.code, failure.message, service)
    return AwsUnavailableError(
        f"{service} failed the entry ({failure.code}): {failure.message}", service
    )
