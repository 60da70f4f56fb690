"""Making a queue exist with the attributes we want, whether or not it existed before.

Bootstrap uses this for the main queue pair and for every queue subscribed to a topic, so
all of them get their dead-letter queue and redrive policy the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.aws import translate_errors
from shared.aws.limits import is_fifo

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeFilterType

    from shared.settings import SqsSettings

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""The longest SQS allows, so dead letters outlive the messages they came from."""


@dataclass(frozen=True)
class QueuePair:
    queue_url: str
    dlq_url: str
    dlq_arn: str


def ensure_queue_pair(client: SQSClient, name: str, dlq_name: str, sqs: SqsSettings) -> QueuePair:
    """Make the dead-letter queue, then the queue redriving into it after
    `sqs.max_receive_count` receives. Names ending `.fifo` make FIFO queues."""
    dlq_url = ensure_queue(
        client,
        dlq_name,
        {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
        on_create=fifo_attributes(dlq_name),
    )
    dlq_arn = queue_attributes(client, dlq_name, dlq_url, "QueueArn")["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(sqs.max_receive_count)}
    queue_url = ensure_queue(
        client,
        name,
        {
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(sqs.visibility_timeout),
        },
        on_create=fifo_attributes(name),
    )
    return QueuePair(queue_url, dlq_url, dlq_arn)


def ensure_queue(
    client: SQSClient,
    name: str,
    attributes: dict[str, str],
    *,
    on_create: dict[str, str] | None = None,
) -> str:
    """Create the queue, or update it: CreateQueue fails on a queue whose attributes differ.

    `on_create` holds what only CreateQueue may set (`FifoQueue`). Returns the queue URL.
    """
    with translate_errors("SQS", name):
        try:
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            everything = {**(on_create or {}), **attributes}
            return client.create_queue(QueueName=name, Attributes=everything)["QueueUrl"]  # type: ignore[arg-type]
        client.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]
        return url


def queue_attributes(
    client: SQSClient, name: str, url: str, *names: QueueAttributeFilterType
) -> dict[str, str]:
    """The named attributes a queue has; absent ones (an unset Policy) are left out."""
    with translate_errors("SQS", name):
        response = client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))
    return {str(key): value for key, value in response.get("Attributes", {}).items()}


def fifo_attributes(name: str) -> dict[str, str]:
    """What CreateQueue needs for a queue named `*.fifo`; nothing for any other."""
    return {"FifoQueue": "true"} if is_fifo(name) else {}
