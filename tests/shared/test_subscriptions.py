"""Bootstrap for topics: what it creates, that a second run changes nothing, and convergence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.aws import SnsTopic, SqsQueue
from shared.bootstrap import main
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from shared.topology.subscriptions import POLICY_SID, merged_policy
from shared.topology.topics import TopicsConfigError

ORDERS = """
[topics.orders]
[[topics.orders.subscriptions]]
queue = "billing"
filter_policy = { type = ["order.created"] }

[[topics.orders.subscriptions]]
queue = "audit"
"""


@pytest.fixture
def topics_file(settings: Settings, tmp_path: Path, mocked_aws: None) -> Path:
    path = tmp_path / "topics.toml"
    settings.topics.file = path
    return path


def sns() -> Any:
    return boto3.client("sns", region_name="us-east-1")


def sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def topic_arn(name: str) -> str:
    [arn] = [t["TopicArn"] for t in sns().list_topics()["Topics"] if t["TopicArn"].endswith(name)]
    return str(arn)


def subscriptions(topic: str) -> dict[str, dict[str, Any]]:
    """Queue name → subscription attributes (with the subscription ARN)."""
    found = {}
    for entry in sns().list_subscriptions_by_topic(TopicArn=topic_arn(topic))["Subscriptions"]:
        attributes = sns().get_subscription_attributes(SubscriptionArn=entry["SubscriptionArn"])
        found[entry["Endpoint"].rsplit(":", 1)[-1]] = attributes["Attributes"]
    return found


def queue_attributes(name: str) -> dict[str, str]:
    url = sqs().get_queue_url(QueueName=name)["QueueUrl"]
    return dict(sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def filter_of(attributes: dict[str, Any]) -> dict[str, Any] | None:
    return json.loads(attributes.get("FilterPolicy") or "{}") or None


def publish(settings: Settings, topic: str, type_: str, **payload: object) -> str:
    sns_topic = SnsTopic.from_settings(settings, topic)
    envelope = Envelope(type=type_, payload=payload)
    assert sns_topic.send_batch([envelope.outgoing()]).failed == []
    return str(envelope.id)


def received(settings: Settings, queue: str) -> set[str]:
    """Envelope ids of everything in the queue (moto delivers during Publish)."""
    found: set[str] = set()
    source = SqsQueue.from_settings(settings, queue_name=queue)
    for _ in range(10):
        batch = source.receive(max_messages=10, wait_time_seconds=0, visibility_timeout=60)
        if not batch:
            break
        found.update(str(Envelope.from_body(m.body).id) for m in batch)
    return found


def test_creates_topic_queues_dead_letter_queues_policies_and_raw_subscriptions(
    settings: Settings, topics_file: Path
) -> None:
    topics_file.write_text(ORDERS)
    ensure_resources(settings)
    arn = topic_arn("orders")
    subscribed = subscriptions("orders")
    assert set(subscribed) == {"billing", "audit"}
    assert subscribed["billing"]["RawMessageDelivery"] == "true"
    assert filter_of(subscribed["billing"]) == {"type": ["order.created"]}
    assert subscribed["billing"]["FilterPolicyScope"] == "MessageAttributes"
    assert subscribed["audit"]["RawMessageDelivery"] == "true"
    assert filter_of(subscribed["audit"]) is None
    for queue in ("billing", "audit"):
        attributes = queue_attributes(queue)
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == queue_attributes(f"{queue}-dlq")["QueueArn"]
        assert int(redrive["maxReceiveCount"]) == settings.sqs.max_receive_count
        assert int(attributes["VisibilityTimeout"]) == settings.sqs.visibility_timeout
        [statement] = json.loads(attributes["Policy"])["Statement"]
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == attributes["QueueArn"]
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [arn]}}


def test_a_second_run_changes_nothing(settings: Settings, topics_file: Path) -> None:
    topics_file.write_text(ORDERS)
    ensure_resources(settings)
    before = subscriptions("orders")
    queues = sorted(sqs().list_queues()["QueueUrls"])
    policy = queue_attributes("billing")["Policy"]
    everything = sns().list_subscriptions()["Subscriptions"]
    assert len(everything) == 3  # billing, audit and the status events topic's queue
    ensure_resources(settings)
    assert subscriptions("orders") == before
    assert sns().list_subscriptions()["Subscriptions"] == everything
    assert sorted(sqs().list_queues()["QueueUrls"]) == queues
    assert queue_attributes("billing")["Policy"] == policy


def test_a_changed_filter_is_updated_in_place_and_a_removed_one_is_removed(
    settings: Settings, topics_file: Path
) -> None:
    topics_file.write_text(ORDERS)
    ensure_resources(settings)
    arn = subscriptions("orders")["billing"]["SubscriptionArn"]
    topics_file.write_text(ORDERS.replace('["order.created"]', '["order.paid", "order.refunded"]'))
    ensure_resources(settings)
    billing = subscriptions("orders")["billing"]
    assert billing["SubscriptionArn"] == arn
    assert filter_of(billing) == {"type": ["order.paid", "order.refunded"]}
    paid = publish(settings, "orders", "order.paid")
    publish(settings, "orders", "order.created")
    assert received(settings, "billing") == {paid}

    topics_file.write_text(ORDERS.replace('filter_policy = { type = ["order.created"] }\n', ""))
    ensure_resources(settings)
    billing = subscriptions("orders")["billing"]
    assert billing["SubscriptionArn"] == arn
    assert filter_of(billing) is None
    assert publish(settings, "orders", "order.created") in received(settings, "billing")


def test_a_changed_scope_filters_by_the_new_scope(settings: Settings, topics_file: Path) -> None:
    topics_file.write_text(ORDERS)
    ensure_resources(settings)
    topics_file.write_text(
        ORDERS.replace(
            'filter_policy = { type = ["order.created"] }',
            'filter_scope = "MessageBody"\nfilter_policy = { payload = { region = ["eu"] } }',
        )
    )
    ensure_resources(settings)
    billing = subscriptions("orders")["billing"]
    assert billing["FilterPolicyScope"] == "MessageBody"
    eu = publish(settings, "orders", "order.created", region="eu")
    publish(settings, "orders", "order.created", region="us")
    assert received(settings, "billing") == {eu}


def test_a_queue_fed_by_two_topics_lets_both_send(settings: Settings, topics_file: Path) -> None:
    refunds = '[topics.refunds]\n[[topics.refunds.subscriptions]]\nqueue = "audit"\n'
    topics_file.write_text(ORDERS + refunds)
    ensure_resources(settings)
    [ours] = json.loads(queue_attributes("audit")["Policy"])["Statement"]
    assert ours["Sid"] == POLICY_SID
    sources = ours["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(sources) == sorted([topic_arn("orders"), topic_arn("refunds")])
    refund = publish(settings, "refunds", "refund.made")
    order = publish(settings, "orders", "order.created")
    assert received(settings, "audit") == {refund, order}


def test_merging_replaces_our_statement_and_keeps_the_others() -> None:
    theirs = {"Sid": "Theirs", "Effect": "Deny", "Principal": "*", "Action": "sqs:PurgeQueue"}
    first = merged_policy({"Version": "2012-10-17", "Statement": theirs}, "arn:q", ["arn:t1"])
    again = merged_policy(first, "arn:q", ["arn:t2", "arn:t1", "arn:t1"])
    assert [s["Sid"] for s in again["Statement"]] == ["Theirs", POLICY_SID]
    assert again["Statement"][0] == theirs
    assert again["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"] == ["arn:t1", "arn:t2"]
    assert merged_policy(again, "arn:q", ["arn:t1", "arn:t2"]) == again


def test_fifo_topics_get_fifo_queues_and_fifo_dead_letter_queues(
    settings: Settings, topics_file: Path
) -> None:
    topics_file.write_text(
        '[topics."pay.fifo"]\ncontent_based_deduplication = true\n'
        '[[topics."pay.fifo".subscriptions]]\nqueue = "ledger.fifo"\n'
    )
    ensure_resources(settings)
    attributes = sns().get_topic_attributes(TopicArn=topic_arn("pay.fifo"))["Attributes"]
    assert attributes["FifoTopic"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert queue_attributes("ledger.fifo")["FifoQueue"] == "true"
    dlq = queue_attributes("ledger-dlq.fifo")
    assert dlq["FifoQueue"] == "true"
    redrive = json.loads(queue_attributes("ledger.fifo")["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]

    topics_file.write_text(topics_file.read_text().replace("= true", "= false"))
    ensure_resources(settings)
    attributes = sns().get_topic_attributes(TopicArn=topic_arn("pay.fifo"))["Attributes"]
    assert attributes["ContentBasedDeduplication"] == "false"


def test_the_main_queue_may_subscribe_and_keeps_its_dead_letter_queue(
    settings: Settings, topics_file: Path
) -> None:
    topics_file.write_text('[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "messages"\n')
    pair = ensure_resources(settings)
    redrive = json.loads(queue_attributes("messages")["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == pair.dlq_arn
    names = [url.rsplit("/", 1)[-1] for url in sqs().list_queues()["QueueUrls"]]
    assert "messages-dlq-dlq" not in names
    assert "messages" in subscriptions("orders")


BAD_FILTER = ORDERS.replace('["order.created"]', '[{ numeric = ["<", "100"] }]')


def test_a_filter_sns_rejects_is_named_and_leaves_no_subscription(
    settings: Settings, topics_file: Path
) -> None:
    topics_file.write_text(BAD_FILTER)
    with pytest.raises(TopicsConfigError) as caught:
        ensure_resources(settings)
    message = str(caught.value)
    assert "topic 'orders', queue 'billing': SNS rejected the filter policy" in message
    assert "must be numeric" in message
    assert "billing" not in subscriptions("orders")


def test_bootstrap_exits_1_naming_the_topic_when_a_filter_is_rejected(
    settings: Settings,
    topics_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topics_file.write_text(BAD_FILTER)
    monkeypatch.setenv("TOPICS_FILE", str(topics_file))
    assert main([]) == 1
    assert "topic 'orders', queue 'billing': SNS rejected" in capsys.readouterr().err


def test_a_bad_topics_file_fails_before_anything_is_made(
    settings: Settings, topics_file: Path
) -> None:
    topics_file.write_text("[topics.orders\n")
    with pytest.raises(TopicsConfigError, match="not valid TOML"):
        ensure_resources(settings)
    assert sqs().list_queues().get("QueueUrls", []) == []
