"""What the producer and the consumer share: settings, the envelope, the SQS wrapper."""

from shared.bootstrap import QueuePair, ensure_queues
from shared.errors import (
    MessageTooLargeError,
    QueueNotFoundError,
    SqsError,
    SqsRequestError,
    SqsUnavailableError,
)
from shared.models import Envelope
from shared.settings import Settings, get_settings
from shared.sqs import BatchSendResult, EntryFailure, ReceivedMessage, SendResult, SqsQueue

__all__ = [
    "BatchSendResult",
    "EntryFailure",
    "Envelope",
    "MessageTooLargeError",
    "QueueNotFoundError",
    "QueuePair",
    "ReceivedMessage",
    "SendResult",
    "Settings",
    "SqsError",
    "SqsQueue",
    "SqsRequestError",
    "SqsUnavailableError",
    "ensure_queues",
    "get_settings",
]
