"""AWS's own rules for SQS and SNS, stated once: batch sizes, attribute counts, delays, names."""

from __future__ import annotations

MAX_BATCH_ENTRIES = 10
"""Most entries in one batch call (SendMessageBatch, DeleteMessageBatch, PublishBatch, ...),
and most messages one ReceiveMessage returns."""
MAX_MESSAGE_ATTRIBUTES = 10
"""Most message attributes on one SQS message or SNS notification."""
MAX_DELAY_SECONDS = 900
"""Longest DelaySeconds SQS takes (15 minutes)."""
MAX_VISIBILITY_SECONDS = 43_200
"""Longest visibility timeout SQS takes (12 hours)."""
SQS_MAX_BATCH_BYTES = 1_048_576
"""SQS's limit for one SendMessageBatch, its messages together (1 MiB), whatever the queue's
MaximumMessageSize; a batch over it is refused as a whole (`BatchRequestTooLong`)."""
SNS_MAX_MESSAGE_BYTES = 262_144
"""SNS's limit for one message, body and attributes together, and for one PublishBatch."""
FIFO_SUFFIX = ".fifo"


def is_fifo(name: str) -> bool:
    """SQS's and SNS's rule: a FIFO queue's or topic's name ends in `.fifo`."""
    return name.endswith(FIFO_SUFFIX)
