"""Batch calls whose entries can fail one by one: run them ten at a time, retry what failed.

SQS answers a batch call with per-entry results. Whatever SQS failed on its own side is
worth another try; what it blames on the request (a sender fault, such as an expired
receipt handle) is not. Callers learn which entries are left so they never assume success.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from shared.errors import SqsError
from shared.sqs import EntryFailure

log = logging.getLogger(__name__)

BATCH = 10
"""SQS's most entries per batch call."""
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
    items that still failed. Entries SQS blames on the request (sender faults) are not retried.
    """
    pending = list(items)
    given_up: list[T] = []
    for attempt in range(1, attempts + 1):
        if not pending:
            break
        retry: list[T] = []
        for start in range(0, len(pending), BATCH):
            chunk = pending[start : start + BATCH]
            try:
                failures = call(chunk)
            except SqsError as exc:
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
