"""The status events topic: consumers publish to it, and it fans each event out to every reader.

Its subscribers are the events queue, which producer replicas share (each body taken by one,
which writes it to the status table), and one feed queue per producer replica
(`producer.tracking.feed_queue`), so every replica's live feed sees every event. Every
subscription delivers raw: a queue holds the same body and signature a direct send would.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from shared.aws import translate_errors
from shared.topology.queues import ensure_queue, queue_attributes
from shared.topology.subscriptions import (
    merged_policy,
    subscriptions_by_endpoint,
)

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

log = logging.getLogger(__name__)

EVENTS_RETENTION_SECONDS = 600
"""Status events are news, not records: an hour-old "done" helps no live feed."""


def ensure_events_topic(sns: SNSClient, sqs: SQSClient, topic: str, events_queue: str) -> str:
    """Make the topic and the events queue, subscribed to it; returns the topic's ARN."""
    with translate_errors("SNS", topic):
        topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    url = ensure_events_queue(sqs, events_queue)
    queue_arn = queue_attributes(sqs, events_queue, url, "QueueArn")["QueueArn"]
    with translate_errors("SQS", events_queue):
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": topic_policy(queue_arn, topic_arn)}
        )
    if queue_arn not in subscriptions_by_endpoint(sns, topic, topic_arn):
        subscribe_raw(sns, topic, topic_arn, queue_arn)
    log.info("events topic ready: %s -> %s", topic, events_queue)
    return topic_arn


def ensure_events_queue(sqs: SQSClient, name: str) -> str:
    return ensure_queue(sqs, name, {"MessageRetentionPeriod": str(EVENTS_RETENTION_SECONDS)})


def topic_policy(queue_arn: str, topic_arn: str) -> str:
    """A queue policy letting the topic, and no other, send to the queue."""
    return json.dumps(merged_policy(None, queue_arn, [topic_arn]))


def subscribe_raw(sns: SNSClient, topic: str, topic_arn: str, queue_arn: str) -> str:
    """Subscribe the queue with raw delivery; returns the subscription's ARN."""
    with translate_errors("SNS", topic):
        return sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
