"""A replica's feed queue on the events topic: made, fed, kept alive, swept, removed.

Over moto's in-process SNS and SQS, with a clock the test moves, so expiry takes no time.
"""

from __future__ import annotations

import boto3
import pytest

from producer.tracking.feed_queue import HEARTBEAT_TAG, FeedQueue
from shared.aws import OutgoingMessage
from shared.aws.sns import SnsTopic
from shared.settings import Settings
from shared.topology.resources import ensure_resources

TOPIC = "messages-events"
EXPIRY = 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def topic(settings: Settings, mocked_aws: None) -> SnsTopic:
    ensure_resources(settings)
    return SnsTopic(boto3.client("sns", region_name="us-east-1"), TOPIC)


def replica(clock: Clock) -> FeedQueue:
    return FeedQueue(
        boto3.client("sqs", region_name="us-east-1"),
        boto3.client("sns", region_name="us-east-1"),
        TOPIC,
        heartbeat_seconds=60,
        expiry_seconds=EXPIRY,
        clock=clock,
    )


def feed_queue_names() -> set[str]:
    urls = boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", [])
    return {url.rsplit("/", 1)[-1] for url in urls if f"{TOPIC}-feed-" in url}


def subscribed_queues() -> set[str]:
    sns = boto3.client("sns", region_name="us-east-1")
    return {s["Endpoint"].rsplit(":", 1)[-1] for s in sns.list_subscriptions()["Subscriptions"]}


def bodies(feed: FeedQueue) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    assert feed.url is not None
    answer = sqs.receive_message(QueueUrl=feed.url, MaxNumberOfMessages=10)
    return [message["Body"] for message in answer.get("Messages", [])]


def test_each_replica_queue_gets_every_event_raw_and_is_gone_after_close(
    topic: SnsTopic,
) -> None:
    clock = Clock()
    first, second = replica(clock), replica(clock)
    first.open()
    second.open()
    assert first.name != second.name
    assert len(first.name) <= 80
    topic.send_batch([OutgoingMessage("0", '[{"raw": true}]')])
    assert bodies(first) == bodies(second) == ['[{"raw": true}]']
    first.close()
    assert feed_queue_names() == {second.name}
    assert first.name not in subscribed_queues()
    topic.send_batch([OutgoingMessage("0", "[]")])  # publishing goes on without it
    assert bodies(second) == ["[]"]


def test_a_queue_left_behind_is_swept_after_its_expiry_and_a_live_one_is_not(
    topic: SnsTopic,
) -> None:
    clock = Clock()
    live, dead = replica(clock), replica(clock)
    live.open()
    dead.open()  # then killed: it never beats again
    clock.now += EXPIRY - 1
    live.beat()
    assert live.sweep() == 0
    assert feed_queue_names() == {live.name, dead.name}
    clock.now += 2  # the dead one's heartbeat is now older than the expiry; live's is not
    assert live.sweep() == 1
    assert feed_queue_names() == {live.name}
    assert dead.name not in subscribed_queues()
    assert live.name in subscribed_queues()
    assert live.removed == 1
    topic.send_batch([OutgoingMessage("0", "[]")])
    assert bodies(live) == ["[]"]


def test_two_sweepers_at_once_remove_a_dead_queue_once_without_failing(topic: SnsTopic) -> None:
    clock = Clock()
    one, two, dead = replica(clock), replica(clock), replica(clock)
    for feed in (one, two, dead):
        feed.open()
    clock.now += EXPIRY + 1
    one.beat()
    two.beat()
    assert one.sweep() + two.sweep() == 1
    assert feed_queue_names() == {one.name, two.name}


def test_a_subscription_whose_feed_queue_is_gone_is_removed(topic: SnsTopic) -> None:
    clock = Clock()
    live, orphan = replica(clock), replica(clock)
    live.open()
    orphan.open()
    assert orphan.url is not None
    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=orphan.url)
    live.sweep()
    assert orphan.name not in subscribed_queues()
    assert {live.name, "messages-events"} <= subscribed_queues()


def test_a_queue_removed_behind_its_replica_is_made_again_at_the_next_beat(
    topic: SnsTopic,
) -> None:
    clock = Clock()
    feed = replica(clock)
    feed.open()
    assert feed.url is not None
    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=feed.url)
    feed.beat()
    assert feed_queue_names() == {feed.name}
    assert feed.name in subscribed_queues()
    topic.send_batch([OutgoingMessage("0", "[]")])
    assert bodies(feed) == ["[]"]


def test_the_heartbeat_is_a_tag_renewed_at_each_beat(topic: SnsTopic) -> None:
    clock = Clock()
    feed = replica(clock)
    feed.open()
    sqs = boto3.client("sqs", region_name="us-east-1")
    assert feed.url is not None
    assert sqs.list_queue_tags(QueueUrl=feed.url)["Tags"] == {HEARTBEAT_TAG: "1000000"}
    clock.now += 61
    feed.beat()
    assert sqs.list_queue_tags(QueueUrl=feed.url)["Tags"] == {HEARTBEAT_TAG: "1000061"}


def test_an_unsubscribed_queue_is_subscribed_again_and_kept_at_the_next_beat(
    topic: SnsTopic,
) -> None:
    clock = Clock()
    feed = replica(clock)
    feed.open()
    assert feed.subscription is not None
    boto3.client("sns", region_name="us-east-1").unsubscribe(SubscriptionArn=feed.subscription)
    topic.send_batch([OutgoingMessage("0", '["missed"]')])
    assert feed.url is not None
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=feed.url, MessageBody='["kept"]')
    feed.beat()
    assert feed.name in subscribed_queues()
    topic.send_batch([OutgoingMessage("0", '["after"]')])
    assert sorted(bodies(feed)) == ['["after"]', '["kept"]']  # the same queue, not a new one


def test_an_open_after_the_close_makes_nothing(topic: SnsTopic) -> None:
    """The stop closes while the start may still be opening: nothing may be left behind."""
    feed = replica(Clock())
    feed.close()
    assert feed.open() is None
    feed.beat()
    assert feed_queue_names() == set()
    assert feed.name not in subscribed_queues()
