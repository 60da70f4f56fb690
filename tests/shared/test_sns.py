"""The SNS topic wrapper: ARN lookup, raw delivery of the envelope, FIFO fields, failures."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from scripts.processes import free_port
from shared.aws import (
    AwsUnavailableError,
    MessageTooLargeError,
    OutgoingMessage,
    SnsTopic,
    SqsQueue,
    TopicNotFoundError,
)
from shared.aws.clients import build_client
from shared.aws.limits import SNS_MAX_MESSAGE_BYTES
from shared.messages.envelope import Envelope
from shared.settings import Settings
from tests.conftest import make_settings


def subscribed_queue(topic: str, queue: str, **attributes: str) -> tuple[str, SqsQueue]:
    """A topic with one queue subscribed by raw delivery; returns the topic ARN and the queue."""
    sns: Any = boto3.client("sns", region_name="us-east-1")
    sqs: Any = boto3.client("sqs", region_name="us-east-1")
    fifo = {"FifoTopic": "true"} if topic.endswith(".fifo") else {}
    arn = sns.create_topic(Name=topic, Attributes={**fifo, **attributes})["TopicArn"]
    queue_attributes = {"FifoQueue": "true"} if queue.endswith(".fifo") else {}
    url = sqs.create_queue(QueueName=queue, Attributes=queue_attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return arn, SqsQueue(sqs, queue)


def test_the_arn_is_looked_up_by_name(settings: Settings, mocked_aws: None) -> None:
    sns: Any = boto3.client("sns", region_name="us-east-1")
    for n in range(120):  # more than one ListTopics page
        sns.create_topic(Name=f"other-{n}")
    arn, _ = subscribed_queue("orders", "billing")
    assert SnsTopic.from_settings(settings, "orders").arn == arn
    with pytest.raises(TopicNotFoundError, match="topic 'nope' does not exist"):
        _ = SnsTopic.from_settings(settings, "nope").arn


def test_a_publish_arrives_as_a_direct_send_would(settings: Settings, mocked_aws: None) -> None:
    _, queue = subscribed_queue("orders", "billing")
    topic = SnsTopic.from_settings(settings, "orders")
    envelope = Envelope(type="order.created", payload={"n": 1}, attributes={"tenant": "acme"})
    outcome = topic.send_batch([envelope.outgoing()])
    assert outcome.failed == []
    [result] = outcome.sent
    assert result.entry_id == str(envelope.id)
    [message] = queue.receive(max_messages=10, wait_time_seconds=0)
    assert message.body == envelope.to_body()
    assert message.attributes == envelope.message_attributes()


def test_a_batch_publish_answers_for_each_entry(settings: Settings, mocked_aws: None) -> None:
    _, queue = subscribed_queue("orders", "billing")
    topic = SnsTopic.from_settings(settings, "orders")
    envelopes = [Envelope(type="order.created", payload={"n": n}) for n in range(3)]
    outcome = topic.send_batch([e.outgoing() for e in envelopes])
    assert sorted(ok.entry_id for ok in outcome.sent) == sorted(str(e.id) for e in envelopes)
    assert outcome.failed == []
    assert len({ok.message_id for ok in outcome.sent}) == 3
    bodies = {m.body for m in queue.receive(max_messages=10, wait_time_seconds=0)}
    assert bodies == {e.to_body() for e in envelopes}


def test_fifo_publishes_carry_their_group_id(settings: Settings, mocked_aws: None) -> None:
    _, queue = subscribed_queue("pay.fifo", "ledger.fifo")
    topic = SnsTopic.from_settings(settings, "pay.fifo")
    assert topic.fifo
    envelope = Envelope(type="payment.made", payload={})
    for group, deduplication in (("acct-1", "d-1"), ("acct-2", "d-2")):
        message = envelope.outgoing(group_id=group, deduplication_id=deduplication)
        assert topic.send_batch([message]).failed == []
    raw = queue.client.receive_message(
        QueueUrl=queue.url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Attributes"]["MessageGroupId"] for m in raw) == ["acct-1", "acct-2"]


def test_a_message_over_the_sns_limit_is_refused_before_sending(
    settings: Settings, mocked_aws: None
) -> None:
    topic = SnsTopic.from_settings(settings, "orders")
    envelope = Envelope(type="big", payload={"x": "y" * SNS_MAX_MESSAGE_BYTES})
    with pytest.raises(MessageTooLargeError, match="topic 'orders' accepts at most 262144"):
        topic.check_size(envelope.outgoing())


def test_an_unreachable_endpoint_is_sns_unavailable() -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=0.2
    )
    topic = SnsTopic.from_settings(settings, "orders")
    with pytest.raises(AwsUnavailableError, match="SNS unreachable"):
        topic.send_batch([OutgoingMessage("1", "{}")])


def test_the_sns_client_shares_the_sqs_endpoint_retries_and_timeouts() -> None:
    settings = make_settings(
        endpoint_url="http://127.0.0.1:4566", max_attempts=4, connect_timeout=1.5, read_timeout=7
    )
    client = build_client("sns", settings)
    config = vars(client.meta.config)
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert config["retries"] == {"mode": "standard", "total_max_attempts": 4}
    assert config["connect_timeout"] == 1.5
    assert config["read_timeout"] == 7
