"""Every producer replica's live feed sees every message, whichever replica it was sent to.

Two producers and a consumer over moto's server, the status events fanned out by the events
topic to one feed queue per replica. A replica killed with SIGKILL leaves its queue behind;
the other removes it once its heartbeat is older than the (short) expiry.
"""

from __future__ import annotations

import signal
import time

import boto3
import pytest

from tests.e2e.conftest import Stack, StackFactory
from tests.e2e.feeds import FeedWatcher, subscribed_name, wait_all_done
from tests.support import post_json, wait_for

pytestmark = pytest.mark.e2e

PER_REPLICA = 5
TOPIC = "messages-events"
FAST_FEED_QUEUES = {
    "PRODUCER_STATS_INTERVAL_SECONDS": "0.2",
    "PRODUCER_FEED_QUEUE_HEARTBEAT_SECONDS": "0.5",
    "PRODUCER_FEED_QUEUE_EXPIRY_SECONDS": "2",
}


def send(url: str, n: int) -> str:
    status, body = post_json(f"{url}/messages", {"type": "e2e.record", "payload": {"n": n}})
    assert status == 202, body
    return str(body["id"])


def feed_queues(stack: Stack) -> set[str]:
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    urls = sqs.list_queues(QueueNamePrefix=f"{TOPIC}-feed-").get("QueueUrls", [])
    return {url.rsplit("/", 1)[-1] for url in urls}


def feed_subscriptions(stack: Stack) -> set[str]:
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name="us-east-1")
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]]
    return {e.rsplit(":", 1)[-1] for e in endpoints if f"{TOPIC}-feed-" in e}


def test_each_replica_feed_shows_every_message_sent_through_the_other(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(SQS_EVENTS_SECRET="s" * 32, **FAST_FEED_QUEUES)
    first = stack.producer_url
    second = stack.start_producer()
    watchers = [FeedWatcher(first), FeedWatcher(second)]
    try:
        names = {subscribed_name(watcher) for watcher in watchers}
        assert len(names) == 2
        through_first = {send(first, n) for n in range(PER_REPLICA)}
        through_second = {send(second, n) for n in range(PER_REPLICA)}
        wait_all_done(watchers, through_first | through_second)
    finally:
        for watcher in watchers:
            watcher.close()
    assert feed_queues(stack) == names
    stack.producer.stop()  # a graceful stop removes its queue and its subscription
    stack.services[-1].stop()
    assert feed_queues(stack) == set()
    assert feed_subscriptions(stack) == set()


def test_a_killed_replica_queue_is_removed_by_the_others_after_the_expiry(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(**FAST_FEED_QUEUES)
    watcher = FeedWatcher(stack.producer_url)
    try:
        survivor = subscribed_name(watcher)
        victim_watcher = FeedWatcher(stack.start_producer())
        victim = subscribed_name(victim_watcher)
        victim_watcher.close()
    finally:
        watcher.close()
    assert feed_queues(stack) == {survivor, victim}
    assert stack.services[-1].stop(signal.SIGKILL, timeout=10) == -signal.SIGKILL
    killed_at = time.monotonic()
    wait_for(lambda: feed_queues(stack) == {survivor}, timeout=20, what="the dead queue removed")
    print(f"\nremoved {time.monotonic() - killed_at:.1f}s after the SIGKILL (expiry 2s)")
    assert feed_subscriptions(stack) == {survivor}
    sent = send(stack.producer_url, 0)  # the survivor's feed goes on
    wait_for(lambda: sent in stack.handled_ids(), timeout=20, what="the message handled")
