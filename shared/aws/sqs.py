"""One queue, addressed by name: the only code that calls boto3's SQS client for messages.

It resolves the queue URL once, reads the size limit once, reports batch results entry by
entry, and raises only the errors of `shared.aws.errors`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from shared.aws.clients import build_client
from shared.aws.entries import (
    BatchSendResult,
    EntryFailure,
    OutgoingMessage,
    QueueDepth,
    ReceivedMessage,
    SendResult,
    entry_failures,
)
from shared.aws.errors import MessageTooLargeError, translate_errors
from shared.aws.limits import is_fifo

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        ReceiveMessageRequestTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

    from shared.settings import Settings

SERVICE = "SQS"
QueueAttributeName = Literal[
    "All",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "MaximumMessageSize",
    "QueueArn",
    "RedrivePolicy",
    "VisibilityTimeout",
    "Policy",
]
"""The queue attributes this project reads (a subset of boto3's `QueueAttributeFilterType`)."""
_DEPTH_ATTRIBUTES: tuple[QueueAttributeName, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class SqsQueue:
    """One queue; safe to share between threads. Pass a client in, or build one from settings."""

    service = SERVICE

    def __init__(self, client: SQSClient, queue_name: str) -> None:
        self.client = client
        self.name = queue_name
        self._url: str | None = None
        self._arn: str | None = None
        self._max_size: int | None = None
        self._lock = threading.Lock()
        self._size_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, queue_name: str | None = None, long_poll: bool = False
    ) -> SqsQueue:
        client: SQSClient = build_client("sqs", settings, long_poll=long_poll)
        return cls(client, queue_name or settings.sqs.queue_name)

    @property
    def fifo(self) -> bool:
        return is_fifo(self.name)

    def sibling(self, queue_name: str) -> SqsQueue:
        """Another queue over the same client (a dead-letter queue, the events queue)."""
        return SqsQueue(self.client, queue_name)

    @property
    def url(self) -> str:
        """The queue URL, asked of SQS once: it differs between AWS, localstack and moto."""
        if self._url is None:
            with self._lock, translate_errors(SERVICE, self.name):
                if self._url is None:
                    self._url = self.client.get_queue_url(QueueName=self.name)["QueueUrl"]
        return self._url

    @property
    def arn(self) -> str:
        """The queue ARN, asked of SQS once rather than built from an account id."""
        if self._arn is None:
            self._arn = self.attributes("QueueArn")["QueueArn"]
        return self._arn

    def attributes(self, *names: QueueAttributeName) -> dict[str, str]:
        """The named queue attributes (all without names); unset ones are left out."""
        with translate_errors(SERVICE, self.name):
            response = self.client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=list(names) or ["All"]
            )
        return {str(name): value for name, value in response.get("Attributes", {}).items()}

    def depth(self) -> QueueDepth:
        values = self.attributes(*_DEPTH_ATTRIBUTES)
        visible, in_flight, delayed = (int(values.get(name, "0")) for name in _DEPTH_ATTRIBUTES)
        return QueueDepth(visible, in_flight, delayed)

    def ping(self) -> None:
        """Raise an `AwsError` unless the queue answers."""
        self.attributes("QueueArn")

    @property
    def known_max_message_size(self) -> int | None:
        """The size limit if it was read already; None before the first read."""
        return self._max_size

    def max_message_size(self) -> int:
        """The queue's MaximumMessageSize in bytes, read once from the queue.

        Locked: a burst of first requests would otherwise each ask SQS the same question.
        """
        if self._max_size is None:
            with self._size_lock:
                if self._max_size is None:
                    attributes = self.attributes("MaximumMessageSize")
                    self._max_size = int(attributes["MaximumMessageSize"])
        return self._max_size

    def check_size(self, message: OutgoingMessage) -> None:
        """Raise `MessageTooLargeError` unless the queue takes `message` (reads the limit once)."""
        limit = self.max_message_size()
        if message.size > limit:
            raise MessageTooLargeError(message.size, limit, "the queue", SERVICE)

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        """One SendMessageBatch of up to ten messages; results carry each message's `id`."""
        if not messages:
            return BatchSendResult()
        entries = [_send_entry(m) for m in messages]
        with translate_errors(SERVICE, self.name):
            response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
        sent = [SendResult(ok["Id"], ok["MessageId"]) for ok in response.get("Successful", [])]
        return BatchSendResult(sent, entry_failures(response.get("Failed", [])))

    def receive(
        self,
        *,
        max_messages: int,
        wait_time_seconds: int,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        """Up to `max_messages`, hidden for `visibility_timeout` (unset: the queue's own)."""
        request: ReceiveMessageRequestTypeDef = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_time_seconds,
            "MessageSystemAttributeNames": [
                "ApproximateReceiveCount",
                "SentTimestamp",
                "MessageGroupId",
                "AWSTraceHeader",
            ],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            request["VisibilityTimeout"] = visibility_timeout
        with translate_errors(SERVICE, self.name):
            response = self.client.receive_message(**request)
        return [ReceivedMessage.from_sqs(raw) for raw in response.get("Messages", [])]

    def delete_batch(self, receipt_handles: Sequence[str]) -> list[EntryFailure]:
        """Delete up to ten messages; returns the entries (by index) SQS did not delete."""
        if not receipt_handles:
            return []
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": handle}
            for index, handle in enumerate(receipt_handles)
        ]
        with translate_errors(SERVICE, self.name):
            response = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)
        return entry_failures(response.get("Failed", []))

    def change_visibility(self, entries: Sequence[tuple[str, int]]) -> list[EntryFailure]:
        """Give each of up to ten messages (receipt handle, seconds) its own visibility timeout
        in one call; 0 hands a message back at once. Failures are by index into `entries`."""
        if not entries:
            return []
        request: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": timeout}
            for index, (handle, timeout) in enumerate(entries)
        ]
        with translate_errors(SERVICE, self.name):
            response = self.client.change_message_visibility_batch(
                QueueUrl=self.url, Entries=request
            )
        return entry_failures(response.get("Failed", []))

    def purge(self) -> None:
        """Delete every message in the queue (SQS allows one purge per queue a minute)."""
        with translate_errors(SERVICE, self.name):
            self.client.purge_queue(QueueUrl=self.url)


def carried_over(
    message: OutgoingMessage, original: ReceivedMessage, *, fifo: bool
) -> OutgoingMessage:
    """`message`, made from `original`, as its destination accepts it: a FIFO queue needs a
    group, and deduplicating on the original MessageId makes a repeated move harmless."""
    if not fifo:
        return message
    return message.to_fifo(original.group_id or "default", original.message_id)


def _send_entry(message: OutgoingMessage) -> SendMessageBatchRequestEntryTypeDef:
    """A send entry; FIFO fields only when set, as standard queues refuse them."""
    entry: SendMessageBatchRequestEntryTypeDef = {
        "Id": message.id,
        "MessageBody": message.body,
        "MessageAttributes": message.attributes,
    }
    if message.delay_seconds:  # FIFO queues refuse a per-message delay, even of 0
        entry["DelaySeconds"] = message.delay_seconds
    if message.group_id is not None:
        entry["MessageGroupId"] = message.group_id
    if message.deduplication_id is not None:
        entry["MessageDeduplicationId"] = message.deduplication_id
    return entry
