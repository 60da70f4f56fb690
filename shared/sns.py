"""Publishing to an SNS topic, shaped like `SqsQueue` so one sender and one batcher serve both.

A topic is addressed by name; its ARN is looked up once (ListTopics) rather than built
from an account id, which differs between AWS, localstack and moto. Failures become the
same `SqsError`s as the SQS wrapper's, so the producer answers them the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shared.aws import build_sns_client
from shared.errors import MessageTooLargeError, SqsRequestError, TopicNotFoundError
from shared.models import Envelope
from shared.sqs import BatchSendResult, EntryFailure, OutgoingMessage, SendResult, translate_errors

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sns.type_defs import (
        MessageAttributeValueTypeDef,
        PublishBatchRequestEntryTypeDef,
        PublishInputTypeDef,
    )

    from shared.settings import Settings

MAX_MESSAGE_BYTES = 262_144
"""SNS's limit for one message, body and attributes together, and for one PublishBatch."""


@contextmanager
def translate_sns_errors(topic_name: str) -> Iterator[None]:
    """`translate_errors` for SNS: a missing topic is a `TopicNotFoundError`."""
    try:
        with translate_errors(topic_name, service="SNS"):
            yield
    except SqsRequestError as exc:
        if exc.code == "NotFound":
            raise TopicNotFoundError(topic_name) from exc
        raise


def sns_attributes(message: OutgoingMessage) -> dict[str, MessageAttributeValueTypeDef]:
    """The message's attributes in SNS's shape; raw delivery hands them to SQS unchanged."""
    return {
        name: {"DataType": value["DataType"], "StringValue": value.get("StringValue", "")}
        for name, value in message.attributes.items()
    }


class SnsTopic:
    """One topic, addressed by name; safe to share between threads."""

    service = "SNS"

    def __init__(self, client: SNSClient, topic_name: str) -> None:
        self.client = client
        self.name = topic_name
        self._arn: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, topic_name: str) -> SnsTopic:
        return cls(build_sns_client(settings), topic_name)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")

    @property
    def arn(self) -> str:
        """The topic ARN, found by name among the account's topics once."""
        if self._arn is None:
            with self._lock, translate_sns_errors(self.name):
                if self._arn is None:
                    self._arn = self._find_arn()
        return self._arn

    def _find_arn(self) -> str:
        for page in self.client.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                arn = topic.get("TopicArn", "")
                if arn.rsplit(":", 1)[-1] == self.name:
                    return arn
        raise TopicNotFoundError(self.name)

    def max_message_size(self) -> int:
        return MAX_MESSAGE_BYTES

    def outgoing(
        self,
        envelope: Envelope,
        *,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> OutgoingMessage:
        """The envelope as a publish entry, identified by its envelope id; checked for size."""
        size = envelope.sqs_size()
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLargeError(size, MAX_MESSAGE_BYTES, f"topic {self.name!r}")
        return OutgoingMessage(
            str(envelope.id),
            envelope.to_body(),
            envelope.message_attributes(),
            group_id=group_id,
            deduplication_id=deduplication_id,
        )

    def send_one(self, message: OutgoingMessage) -> SendResult:
        """One Publish call; the result carries `message.id`."""
        request: PublishInputTypeDef = {
            "TopicArn": self.arn,
            "Message": message.body,
            "MessageAttributes": sns_attributes(message),
        }
        if message.group_id is not None:
            request["MessageGroupId"] = message.group_id
        if message.deduplication_id is not None:
            request["MessageDeduplicationId"] = message.deduplication_id
        with translate_sns_errors(self.name):
            response = self.client.publish(**request)
        return SendResult(message.id, response["MessageId"])

    def send_raw_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        """Publish up to ten messages in one PublishBatch; results carry each message's `id`."""
        if not messages:
            return BatchSendResult()
        entries = [_batch_entry(message) for message in messages]
        with translate_sns_errors(self.name):
            response = self.client.publish_batch(
                TopicArn=self.arn, PublishBatchRequestEntries=entries
            )
        sent = [
            SendResult(ok.get("Id", ""), ok.get("MessageId", ""))
            for ok in response.get("Successful", [])
        ]
        failed = [
            EntryFailure(
                entry_id=entry["Id"],
                code=entry["Code"],
                message=entry.get("Message", ""),
                sender_fault=entry["SenderFault"],
            )
            for entry in response.get("Failed", [])
        ]
        return BatchSendResult(sent, failed)


def _batch_entry(message: OutgoingMessage) -> PublishBatchRequestEntryTypeDef:
    entry: PublishBatchRequestEntryTypeDef = {
        "Id": message.id,
        "Message": message.body,
        "MessageAttributes": sns_attributes(message),
    }
    if message.group_id is not None:
        entry["MessageGroupId"] = message.group_id
    if message.deduplication_id is not None:
        entry["MessageDeduplicationId"] = message.deduplication_id
    return entry
