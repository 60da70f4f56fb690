"""This replica's own queue on the status events topic, so its live feed sees every event.

SQS hands each message to one reader, so replicas sharing the events queue would each see
part of the traffic. Each replica therefore subscribes a queue of its own to the events
topic, `<topic>-feed-<12 hex digits>`: made at start, removed at a graceful stop. A replica
killed before it could remove its queue leaves it behind, so every feed queue carries a
heartbeat tag its replica renews, and each replica, once per heartbeat, removes the feed
queues (and their subscriptions) whose heartbeat is older than the expiry.

What it costs a replica is constant, whatever the message rate: one long poll at a time
on its queue, and per heartbeat one TagQueue, one GetSubscriptionAttributes, one ListQueues,
one ListQueueTags per other replica and one ListSubscriptionsByTopic per hundred
subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.aws import AwsError, QueueNotFoundError, TopicNotFoundError, translate_errors
from shared.aws.backoff import error_backoff
from shared.aws.sns import SnsTopic
from shared.topology.events_topic import subscribe_raw, topic_policy
from shared.topology.subscriptions import subscriptions_by_endpoint

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

log = logging.getLogger(__name__)

HEARTBEAT_TAG = "feed-heartbeat"
"""Unix seconds of the owner's last heartbeat, as a queue tag."""
RETENTION_SECONDS = 300
"""An event unread for five minutes is no news to a live feed."""
OPEN_BACKOFF_MAX_SECONDS = 30.0


class FeedQueue:
    """One replica's queue on the events topic: opened, kept alive, closed; and the sweeper of
    queues their replicas left behind."""

    def __init__(
        self,
        sqs: SQSClient,
        sns: SNSClient,
        topic: str,
        *,
        heartbeat_seconds: float,
        expiry_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sqs = sqs
        self.topic = SnsTopic(sns, topic)
        self.prefix = f"{topic}-feed-"
        self.name = self.prefix + secrets.token_hex(6)
        self.heartbeat_seconds = heartbeat_seconds
        self.expiry_seconds = expiry_seconds
        self.clock = clock
        self.url: str | None = None
        self.subscription: str | None = None
        self.closed = False
        self._lock = threading.RLock()
        """Held by open, beat and close: a close during an open removes what it made."""
        self.removed = 0
        """Queues left behind by other replicas that this one removed."""

    def queue_arn(self, name: str) -> str:
        """A queue's ARN from the topic's: the same account and region hold both."""
        _, partition, _, region, account, _ = self.topic.arn.split(":", 5)
        return f"arn:{partition}:sqs:{region}:{account}:{name}"

    def open(self) -> str | None:
        """Make the queue, open to the topic alone, and subscribe it; returns its URL, or
        None once closed."""
        with self._lock:
            return None if self.closed else self._make()

    def _make(self) -> str:
        topic_arn, arn = self.topic.arn, self.queue_arn(self.name)
        with translate_errors("SQS", self.name):
            self.url = self.sqs.create_queue(
                QueueName=self.name,
                Attributes={
                    "MessageRetentionPeriod": str(RETENTION_SECONDS),
                    "Policy": topic_policy(arn, topic_arn),
                },
                tags={HEARTBEAT_TAG: self._now()},
            )["QueueUrl"]
        self.subscription = subscribe_raw(self.topic.client, self.topic.name, topic_arn, arn)
        log.info("feed queue %s subscribed to %s", self.name, self.topic.name)
        return self.url

    def beat(self) -> None:
        """Renew the heartbeat; make the queue, or only the subscription, again if gone."""
        with self._lock:
            if not self.closed:
                self._beat()

    def _beat(self) -> None:
        if self.url is None:
            self._make()
            return
        try:
            with translate_errors("SQS", self.name):
                self.sqs.tag_queue(QueueUrl=self.url, Tags={HEARTBEAT_TAG: self._now()})
        except QueueNotFoundError:
            log.warning("feed queue %s was removed; making it again", self.name)
            self._remove()
            self._make()
            return
        if self.subscription is not None:
            try:
                with translate_errors("SNS", self.topic.name):
                    self.topic.client.get_subscription_attributes(SubscriptionArn=self.subscription)
                return
            except TopicNotFoundError:
                log.warning("feed queue %s was unsubscribed; subscribing it again", self.name)
        self.subscription = subscribe_raw(
            self.topic.client, self.topic.name, self.topic.arn, self.queue_arn(self.name)
        )

    def sweep(self) -> int:
        """Remove the feed queues whose heartbeat expired, and subscriptions of feed queues
        that are gone; returns how many queues it removed."""
        subscriptions = subscriptions_by_endpoint(
            self.topic.client, self.topic.name, self.topic.arn
        )
        alive: set[str] = set()
        removed = 0
        for url in self._feed_queue_urls():
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if name == self.name or not self._expired(url):
                alive.add(name)
                continue
            self._unsubscribe(subscriptions.pop(self.queue_arn(name), None))
            if self._delete(url):
                removed += 1
                log.info("removed feed queue %s: its replica stopped renewing it", name)
        for endpoint, subscription in subscriptions.items():
            name = endpoint.rsplit(":", 1)[-1]
            if name.startswith(self.prefix) and name not in alive:
                self._unsubscribe(subscription)
        self.removed += removed
        return removed

    def close(self) -> None:
        """Unsubscribe, then remove the queue (SNS never delivers to a queue that is gone);
        an open still running finishes first, and none runs after."""
        with self._lock:
            self.closed = True
            self._remove()

    def _remove(self) -> None:
        self._unsubscribe(self.subscription)
        self.subscription = None
        if self.url is not None:
            self._delete(self.url)
            self.url = None

    async def keep(self, opened: Callable[[], None], rng: random.Random | None = None) -> None:
        """Open (retrying while SQS or SNS is down), call `opened`, then beat and sweep every
        heartbeat until cancelled."""
        rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        failures = 0
        while True:
            try:
                if await asyncio.to_thread(self.open) is None:
                    return  # closed meanwhile: the replica is stopping
                break
            except AwsError as exc:
                failures += 1
                delay = error_backoff(failures, OPEN_BACKOFF_MAX_SECONDS, rng)
                log.warning("feed queue %s not made (%s); next try in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
        opened()
        while True:
            await asyncio.sleep(self.heartbeat_seconds * rng.uniform(0.9, 1.0))
            try:
                await asyncio.to_thread(self.beat)
                await asyncio.to_thread(self.sweep)
            except AwsError as exc:
                log.warning("feed queue %s: heartbeat failed: %s", self.name, exc)
            except Exception:  # the feed may lapse, the loop may not
                log.exception("feed queue %s: heartbeat", self.name)

    def _now(self) -> str:
        return str(int(self.clock()))

    def _feed_queue_urls(self) -> list[str]:
        urls: list[str] = []
        with translate_errors("SQS", self.prefix + "*"):
            pages = self.sqs.get_paginator("list_queues").paginate(
                QueueNamePrefix=self.prefix, PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                urls += page.get("QueueUrls", [])
        return urls

    def _expired(self, url: str) -> bool:
        """Whether the queue's heartbeat is older than the expiry; one gone is not."""
        try:
            with translate_errors("SQS", url):
                tags = self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        except QueueNotFoundError:
            return False
        try:
            beat = float(tags.get(HEARTBEAT_TAG, "0"))
        except ValueError:
            beat = 0.0
        return self.clock() - beat > self.expiry_seconds

    def _delete(self, url: str) -> bool:
        """Delete the queue; False when it was already gone (another replica was quicker)."""
        try:
            with translate_errors("SQS", url):
                self.sqs.delete_queue(QueueUrl=url)
        except QueueNotFoundError:
            return False
        return True

    def _unsubscribe(self, subscription: str | None) -> None:
        if subscription is None:
            return
        with contextlib.suppress(TopicNotFoundError), translate_errors("SNS", self.topic.name):
            self.topic.client.unsubscribe(SubscriptionArn=subscription)
