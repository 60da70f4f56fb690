"""One wrapper around boto3's SQS client, shared by the producer, the consumer and bootstrap.

It resolves the queue URL once, sets retries and timeouts deliberately, reports batch
results entry by entry, and turns botocore's exceptions into the few in `shared.errors`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
)

from shared.aws import build_sqs_client
from shared.errors import (
    MessageTooLargeError,
    QueueNotFoundError,
    SqsError,
    SqsRequestError,
    SqsUnavailableError,
)
from shared.models import Envelope

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeFilterType
    from mypy_boto3_sqs.type_defs import (
        BatchResultErrorEntryTypeDef,
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        ReceiveMessageRequestTypeDef,
        SendMessageBatchRequestEntryTypeDef,
        SendMessageRequestTypeDef,
    )

    from shared.settings import Settings

_QUEUE_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
_TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "Throttled",
        "KMSThrottling",
    }
)


@dataclass(frozen=True)
class SendResult:
    """Where SQS put a message: its envelope id and the MessageId SQS assigned."""

    envelope_id: str
    message_id: str


@dataclass(frozen=True)
class EntryFailure:
    """One entry of a batch call that SQS did not carry out."""

    entry_id: str
    code: str
    message: str
    sender_fault: bool


@dataclass(frozen=True)
class BatchSendResult:
    sent: list[SendResult] = field(default_factory=list)
    failed: list[EntryFailure] = field(default_factory=list)


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to send as it is: batch entry id, body and attributes.

    `group_id` and `deduplication_id` are for FIFO destinations only.
    """

    id: str
    body: str
    attributes: dict[str, MessageAttributeValueTypeDef] = field(default_factory=dict)
    delay_seconds: int = 0
    group_id: str | None = None
    """FIFO queues: messages of one group are delivered in order, one group member at a time."""
    deduplication_id: str | None = None
    """FIFO queues: a second send with this id within five minutes is accepted but dropped."""

    @property
    def size(self) -> int:
        """Bytes SQS counts against MaximumMessageSize: body plus attribute names, types, values."""
        return len(self.body.encode()) + attributes_size(self.attributes)


def attributes_size(attributes: dict[str, MessageAttributeValueTypeDef]) -> int:
    return sum(
        len(name.encode())
        + len(value["DataType"].encode())
        + len(value.get("StringValue", "").encode())
        for name, value in attributes.items()
    )


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as received: the raw body (parsing it is the caller's business) and its receipt."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, str]
    sent_timestamp: int | None = None
    """SentTimestamp: epoch milliseconds when the message was sent to this queue."""
    group_id: str | None = None
    """MessageGroupId, on FIFO queues only."""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_sqs(cls, raw: MessageTypeDef) -> ReceivedMessage:
        system = dict(raw.get("Attributes", {}))
        user = {
            name: value.get("StringValue", "")
            for name, value in raw.get("MessageAttributes", {}).items()
        }
        sent = system.get("SentTimestamp")
        return cls(
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw.get("Body", ""),
            receive_count=int(system.get("ApproximateReceiveCount", "1")),
            attributes=user,
            sent_timestamp=int(sent) if sent else None,
            group_id=system.get("MessageGroupId"),
        )


@contextmanager
def translate_errors(queue_name: str, service: str = "SQS") -> Iterator[None]:
    """Re-raise botocore failures as `SqsError`s that say what the caller can do about them.

    `service` names the service in the messages: SNS calls go through here too.
    """
    try:
        yield
    except NoCredentialsError as exc:
        raise SqsUnavailableError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
        ) from exc
    except ParamValidationError as exc:
        raise SqsRequestError("ParamValidation", str(exc), service) from exc
    except BotoCoreError as exc:
        raise SqsUnavailableError(f"{service} unreachable: {exc}") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        message = error.get("Message", str(exc))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code.endswith(_QUEUE_MISSING):
            raise QueueNotFoundError(queue_name) from exc
        if code in _TRANSIENT or status >= 500:
            raise SqsUnavailableError(f"{service} unavailable ({code}): {message}") from exc
        raise SqsRequestError(code, message, service) from exc


class SqsQueue:
    """One queue, addressed by name; safe to share between threads."""

    service = "SQS"

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
        client = build_sqs_client(settings, long_poll=long_poll)
        return cls(client, queue_name or settings.sqs.queue_name)

    @property
    def url(self) -> str:
        """The queue URL, asked of SQS once: it differs between AWS, localstack and moto."""
        if self._url is None:
            with self._lock, translate_errors(self.name):
                if self._url is None:
                    self._url = self.client.get_queue_url(QueueName=self.name)["QueueUrl"]
        return self._url

    def attributes(self, *names: QueueAttributeFilterType) -> dict[str, str]:
        with translate_errors(self.name):
            response = self.client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=list(names) or ["All"]
            )
        return {str(name): value for name, value in response.get("Attributes", {}).items()}

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

    def check_size(self, envelope: Envelope) -> None:
        limit = self.max_message_size()
        size = envelope.sqs_size()
        if size > limit:
            raise MessageTooLargeError(size, limit)

    @property
    def is_fifo(self) -> bool:
        """SQS's own rule: a FIFO queue's name ends in `.fifo`."""
        return self.name.endswith(".fifo")

    def outgoing(
        self,
        envelope: Envelope,
        delay_seconds: int = 0,
        *,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> OutgoingMessage:
        """The envelope as a batch entry, identified by its envelope id; checked for size.

        On a FIFO queue the deduplication id defaults to the envelope id, which is unique per
        message, so content-based deduplication is never needed.
        """
        self.check_size(envelope)
        return OutgoingMessage(
            str(envelope.id),
            envelope.to_body(),
            envelope.message_attributes(),
            delay_seconds,
            group_id=group_id,
            deduplication_id=(deduplication_id or str(envelope.id)) if group_id else None,
        )

    def send(
        self, envelope: Envelope, *, delay_seconds: int = 0, group_id: str | None = None
    ) -> SendResult:
        return self.send_one(self.outgoing(envelope, delay_seconds, group_id=group_id))

    def send_one(self, message: OutgoingMessage) -> SendResult:
        """One SendMessage call; the result carries `message.id`."""
        request: SendMessageRequestTypeDef = {
            "QueueUrl": self.url,
            "MessageBody": message.body,
            "MessageAttributes": message.attributes,
        }
        if message.delay_seconds:  # FIFO queues refuse a per-message delay, even of 0
            request["DelaySeconds"] = message.delay_seconds
        if message.group_id is not None:
            request["MessageGroupId"] = message.group_id
        if message.deduplication_id is not None:
            request["MessageDeduplicationId"] = message.deduplication_id
        with translate_errors(self.name):
            response = self.client.send_message(**request)
        return SendResult(message.id, response["MessageId"])

    def send_batch(
        self, envelopes: Sequence[Envelope], *, delay_seconds: int = 0, group_id: str | None = None
    ) -> BatchSendResult:
        """Send up to ten envelopes in one call; entries are identified by envelope id."""
        return self.send_raw_batch(
            [
                OutgoingMessage(
                    str(envelope.id),
                    envelope.to_body(),
                    envelope.message_attributes(),
                    delay_seconds,
                    group_id=group_id,
                    deduplication_id=str(envelope.id) if group_id else None,
                )
                for envelope in envelopes
            ]
        )

    def receive(self, *, max_messages: int, wait_time_seconds: int) -> list[ReceivedMessage]:
        return self._receive(max_messages, wait_time_seconds, None)

    def receive_with_visibility(
        self, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int
    ) -> list[ReceivedMessage]:
        """Receive, hiding the messages for `visibility_timeout` instead of the queue's own."""
        return self._receive(max_messages, wait_time_seconds, visibility_timeout)

    def _receive(
        self, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None
    ) -> list[ReceivedMessage]:
        request: ReceiveMessageRequestTypeDef = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_time_seconds,
            "MessageSystemAttributeNames": [
                "ApproximateReceiveCount",
                "SentTimestamp",
                "MessageGroupId",
            ],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            request["VisibilityTimeout"] = visibility_timeout
        with translate_errors(self.name):
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
        with translate_errors(self.name):
            response = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)
        return _failures(response.get("Failed", []))

    def change_visibility_batch(
        self, receipt_handles: Sequence[str], timeout: int
    ) -> list[EntryFailure]:
        """Set the visibility of up to ten messages; 0 hands them back to the queue at once."""
        return self.set_visibilities([(handle, timeout) for handle in receipt_handles])

    def set_visibilities(self, entries: Sequence[tuple[str, int]]) -> list[EntryFailure]:
        """Give each of up to ten messages its own visibility timeout, in one call.

        Failures are reported by index into `entries`.
        """
        if not entries:
            return []
        request: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": timeout}
            for index, (handle, timeout) in enumerate(entries)
        ]
        with translate_errors(self.name):
            response = self.client.change_message_visibility_batch(
                QueueUrl=self.url, Entries=request
            )
        return _failures(response.get("Failed", []))

    def send_raw_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        """Send up to ten messages whose body and attributes are already made (dead letters,
        redrives); results are identified by each message's `id`."""
        if not messages:
            return BatchSendResult()
        entries = [_entry(m) for m in messages]
        with translate_errors(self.name):
            response = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
        sent = [SendResult(ok["Id"], ok["MessageId"]) for ok in response.get("Successful", [])]
        return BatchSendResult(sent, _failures(response.get("Failed", [])))

    def ping(self) -> None:
        """Raise an `SqsError` unless the queue answers."""
        self.attributes("QueueArn")

    @property
    def arn(self) -> str:
        """The queue ARN, asked of SQS once rather than built from an account id."""
        if self._arn is None:
            self._arn = self.attributes("QueueArn")["QueueArn"]
        return self._arn

    def purge(self) -> None:
        """Delete every message in the queue (SQS allows one purge per queue a minute)."""
        with translate_errors(self.name):
            self.client.purge_queue(QueueUrl=self.url)


def carried_over(
    message: OutgoingMessage, original: ReceivedMessage, to: SqsQueue
) -> OutgoingMessage:
    """`message`, made from `original`, as `to` accepts it: a FIFO queue needs a group, and
    deduplicating on the original MessageId makes a repeated move harmless."""
    if not to.is_fifo:
        return message
    return replace(
        message, group_id=original.group_id or "default", deduplication_id=original.message_id
    )


def _entry(message: OutgoingMessage) -> SendMessageBatchRequestEntryTypeDef:
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


def _failures(raw: Sequence[BatchResultErrorEntryTypeDef]) -> list[EntryFailure]:
    return [
        EntryFailure(
            entry_id=entry["Id"],
            code=entry.get("Code", "Unknown"),
            message=entry.get("Message", ""),
            sender_fault=entry.get("SenderFault", False),
        )
        for entry in raw
    ]


__all__ = [
    "BatchSendResult",
    "EntryFailure",
    "OutgoingMessage",
    "ReceivedMessage",
    "SendResult",
    "SqsError",
    "SqsQueue",
    "translate_errors",
]
