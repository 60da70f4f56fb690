"""Publishing to an SNS topic, shaped like `SqsQueue` so one sender and one batcher serve both.

A topic is addressed by name; its ARN is looked up once (ListTopics) rather than built
from an account id, which differs between AWS, localstack and moto.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.aws.clients import build_client
from shared.aws.entries import BatchSendResult, OutgoingMessage, SendResult, entry_failures
from shared.aws.errors import MessageTooLargeError, TopicNotFoundError, translate_errors
from shared.aws.limits import SNS_MAX_MESSAGE_BYTES, is_fifo

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sns.type_defs import (
        MessageAttributeValueTypeDef,
        PublishBatchRequestEntryTypeDef,
    )

    from shared.settings import Settings

SERVICE = "SNS"


class SnsTopic:
    """One topic; safe to share between threads."""

    service = SERVICE

    def __init__(self, client: SNSClient, topic_name: str) -> None:
        self.client = client
        self.name = topic_name
        self._arn: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, topic_name: str) -> SnsTopic:
        return cls(build_client("sns", settings), topic_name)

    @property
    def fifo(self) -> bool:
        return is_fifo(self.name)

    @property
    def arn(self) -> str:
        """The topic ARN, found by name among the account's topics once."""
        if self._arn is None:
            with self._lock, translate_errors(SERVICE, self.name):
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

    @property
    def known_max_message_size(self) -> int:
        return SNS_MAX_MESSAGE_BYTES

    def max_message_size(self) -> int:
        return SNS_MAX_MESSAGE_BYTES

    def check_size(self, message: OutgoingMessage) -> None:
        if message.size > SNS_MAX_MESSAGE_BYTES:
            raise MessageTooLargeError(
                message.size, SNS_MAX_MESSAGE_BYTES, f"topic {self.name!r}", SERVICE
            )

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        """One PublishBatch of up to ten messages; results carry each message's `id`."""
        if not messages:
            return BatchSendResult()
        entries = [_publish_entry(message) for message in messages]
        with translate_errors(SERVICE, self.name):
            response = self.client.publish_batch(
                TopicArn=self.arn, PublishBatchRequestEntries=entries
            )
        sent = [
            SendResult(ok.get("Id", ""), ok.get("MessageId", ""))
            for ok in response.get("Successful", [])
        ]
        return BatchSendResult(sent, entry_failures(response.get("Failed", [])))


def _publish_entry(message: OutgoingMessage) -> PublishBatchRequestEntryTypeDef:
    """A publish entry; raw delivery hands its attributes to SQS unchanged."""
    attributes: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in message.attributes.items():
        binary = value.get("BinaryValue")
        attributes[name] = (
            {"DataType": value["DataType"], "BinaryValue": binary}
            if binary is not None
            else {"DataType": value["DataType"], "StringValue": value.get("StringValue", "")}
        )
    entry: PublishBatchRequestEntryTypeDef = {
        "Id": message.id,
        "Message": message.body,
        "MessageAttributes": attributes,
    }
    if message.group_id is not None:
        entry["MessageGroupId"] = message.group_id
    if message.deduplication_id is not None:
        entry["MessageDeduplicationId"] = message.deduplication_id
    return entry
