"""AWS calls: clients, one error family, SQS queues, SNS topics, batch calls entry by entry.

This layer knows bodies and attributes, never envelopes: `shared.messages` sits above it.
"""

from shared.aws.clients import build_client
from shared.aws.entries import (
    BatchSendResult,
    EntryFailure,
    OutgoingMessage,
    QueueDepth,
    ReceivedMessage,
    SendResult,
)
from shared.aws.errors import (
    AwsError,
    AwsRequestError,
    AwsUnavailableError,
    MessageTooLargeError,
    QueueNotFoundError,
    TopicNotFoundError,
    translate_errors,
)
from shared.aws.sns import SnsTopic
from shared.aws.sqs import SqsQueue

__all__ = [
    "AwsError",
    "AwsRequestError",
    "AwsUnavailableError",
    "BatchSendResult",
    "EntryFailure",
    "MessageTooLargeError",
    "OutgoingMessage",
    "QueueDepth",
    "QueueNotFoundError",
    "ReceivedMessage",
    "SendResult",
    "SnsTopic",
    "SqsQueue",
    "TopicNotFoundError",
    "build_client",
    "translate_errors",
]
