"""Bring SNS topics, their queues and the subscriptions between them to what the file declares.

Every subscribed queue gets a dead-letter queue and a redrive policy like the main
queue's, and a queue policy that lets exactly its declared topics send to it. Every
subscription delivers raw, so the queue holds the envelope body and attributes just as a
direct send would. Running again changes nothing: an existing subscription is brought to
the declared filter in place, never subscribed twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.aws import AwsRequestError, translate_errors
from shared.aws.clients import build_client
from shared.messages.dead_letter import dead_letter_queue_of
from shared.topology.queues import ensure_queue_pair, queue_attributes
from shared.topology.topics import (
    FilterScope,
    Subscription,
    Topic,
    TopicsConfig,
    TopicsConfigError,
)

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

log = logging.getLogger(__name__)

POLICY_SID = "AllowDeclaredTopics"
"""Our statement in a queue policy; statements with other ids are left as they are."""
NO_FILTER = "{}"
"""What SNS takes as "remove the filter policy"."""


@dataclass(frozen=True)
class SubscribedQueue:
    name: str
    url: str
    arn: str


def ensure_topics(
    settings: Settings,
    config: TopicsConfig,
    *,
    sns: SNSClient | None = None,
    sqs: SQSClient | None = None,
) -> dict[str, str]:
    """Make every declared topic, subscribed queue and subscription; returns topic ARNs by name.

    Queues come before subscriptions so that SNS may send to a queue from the first message.
    """
    sns = sns or build_client("sns", settings)
    sqs = sqs or build_client("sqs", settings)
    arns = {topic.name: ensure_topic(sns, topic) for topic in config.topics}
    queues = {
        queue: ensure_subscribed_queue(sqs, settings, queue, [arns[t.name] for t in topics])
        for queue, topics in config.feeds().items()
    }
    for topic in config.topics:
        ensure_subscriptions(sns, topic, arns[topic.name], queues)
        log.info("topic ready: %s -> %s", topic.name, [s.queue for s in topic.subscriptions])
    return arns


def ensure_topic(client: SNSClient, topic: Topic) -> str:
    """CreateTopic returns the existing topic's ARN; content-based deduplication may change."""
    with translate_errors("SNS", topic.name):
        attributes = {"FifoTopic": "true"} if topic.fifo else {}
        arn = client.create_topic(Name=topic.name, Attributes=attributes)["TopicArn"]
        if topic.fifo:
            current = client.get_topic_attributes(TopicArn=arn)["Attributes"]
            wanted = str(topic.content_based_deduplication).lower()
            if current.get("ContentBasedDeduplication", "false").lower() != wanted:
                client.set_topic_attributes(
                    TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue=wanted
                )
    return arn


def ensure_subscribed_queue(
    client: SQSClient, settings: Settings, queue: str, topic_arns: list[str]
) -> SubscribedQueue:
    """The queue with its dead-letter queue, open to `topic_arns` by its queue policy.

    The main queue keeps its configured dead-letter queue; any other gets `<queue>-dlq`.
    """
    sqs = settings.sqs
    dlq = dead_letter_queue_of(queue, sqs)
    url = ensure_queue_pair(client, queue, dlq, sqs).queue_url
    current = queue_attributes(client, queue, url, "QueueArn", "Policy")
    arn = current["QueueArn"]
    existing = json.loads(current["Policy"]) if current.get("Policy") else None
    policy = merged_policy(existing, arn, topic_arns)
    if policy != existing:
        with translate_errors("SQS", queue):
            client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return SubscribedQueue(queue, url, arn)


def merged_policy(
    existing: dict[str, Any] | None, queue_arn: str, topic_arns: list[str]
) -> dict[str, Any]:
    """The queue policy with our statement letting `topic_arns` (and no other topic) send."""
    policy = dict(existing or {"Version": "2012-10-17"})
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    ours = {
        "Sid": POLICY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": sorted(set(topic_arns))}},
    }
    policy["Statement"] = [s for s in statements if s.get("Sid") != POLICY_SID] + [ours]
    return policy


def ensure_subscriptions(
    client: SNSClient, topic: Topic, topic_arn: str, queues: dict[str, SubscribedQueue]
) -> None:
    """Subscribe each declared queue once, or bring its subscription to the declaration."""
    existing = subscriptions_by_endpoint(client, topic.name, topic_arn)
    for subscription in topic.subscriptions:
        endpoint = queues[subscription.queue].arn
        with _named(topic, subscription):
            if endpoint in existing:
                _converge(client, existing.pop(endpoint), subscription)
            else:
                _subscribe(client, topic, topic_arn, endpoint, subscription)
    for endpoint in existing:
        log.warning("topic %s: %s is subscribed but not declared; left alone", topic.name, endpoint)


def desired_attributes(subscription: Subscription) -> dict[str, str]:
    """Subscription attributes, scope before policy: SNS checks a policy against its scope."""
    attributes = {"RawMessageDelivery": "true"}
    if subscription.filter_policy:
        attributes["FilterPolicyScope"] = subscription.filter_scope.value
        attributes["FilterPolicy"] = subscription.filter_policy
    return attributes


def subscriptions_by_endpoint(client: SNSClient, topic: str, topic_arn: str) -> dict[str, str]:
    """Confirmed SQS subscriptions of the topic: queue ARN → subscription ARN."""
    found: dict[str, str] = {}
    with translate_errors("SNS", topic):
        pages = client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        for page in pages:
            for entry in page.get("Subscriptions", []):
                arn = entry.get("SubscriptionArn", "")
                if entry.get("Protocol") == "sqs" and arn.startswith("arn:"):
                    found[entry.get("Endpoint", "")] = arn
    return found


def _subscribe(
    client: SNSClient, topic: Topic, topic_arn: str, endpoint: str, subscription: Subscription
) -> None:
    """Subscribe with every attribute at once. Some endpoints (moto) create the subscription
    before they check its filter; one refused is removed, so no unfiltered copy is left."""
    try:
        with translate_errors("SNS", topic.name):
            client.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=endpoint,
                Attributes=desired_attributes(subscription),
                ReturnSubscriptionArn=True,
            )
    except AwsRequestError:
        left = subscriptions_by_endpoint(client, topic.name, topic_arn).get(endpoint)
        if left is not None:
            with translate_errors("SNS", topic.name):
                client.unsubscribe(SubscriptionArn=left)
        raise


def _converge(client: SNSClient, subscription_arn: str, subscription: Subscription) -> None:
    """Set what differs. A changed scope sets the policy again too, so every endpoint
    (moto and localstack included) evaluates the policy in its new scope."""
    current = client.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
    changes: dict[str, str] = {}
    if current.get("RawMessageDelivery", "false").lower() != "true":
        changes["RawMessageDelivery"] = "true"
    policy = subscription.policy()
    current_policy = json.loads(current.get("FilterPolicy") or NO_FILTER) or None
    current_scope = current.get("FilterPolicyScope", FilterScope.MESSAGE_ATTRIBUTES.value)
    if policy is not None and current_scope != subscription.filter_scope.value:
        changes["FilterPolicyScope"] = subscription.filter_scope.value
        changes["FilterPolicy"] = subscription.filter_policy or NO_FILTER
    elif policy != current_policy:
        changes["FilterPolicy"] = subscription.filter_policy or NO_FILTER
    for name, value in changes.items():
        client.set_subscription_attributes(
            SubscriptionArn=subscription_arn, AttributeName=name, AttributeValue=value
        )


@contextmanager
def _named(topic: Topic, subscription: Subscription) -> Iterator[None]:
    """SNS failures named by topic and queue; a refused filter is the topics file's fault."""
    try:
        with translate_errors("SNS", topic.name):
            yield
    except AwsRequestError as exc:
        if exc.code != "InvalidParameter":
            raise
        what = "the filter policy" if subscription.filter_policy else "the subscription"
        raise TopicsConfigError(
            f"topic {topic.name!r}, queue {subscription.queue!r}: SNS rejected {what}: {exc.reason}"
        ) from exc
