"""Oldest-message ages from CloudWatch (moto's), read at most once a minute."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from producer.tracking.queue_ages import REFRESH_SECONDS, RETRY_AFTER_ERROR_SECONDS, OldestAges
from scripts.processes import free_port

NOW = datetime.now(UTC).replace(second=30, microsecond=0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def put_age(queue: str, seconds: float, minutes_ago: int) -> None:
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Timestamp": NOW - timedelta(minutes=minutes_ago),
                "Value": seconds,
            }
        ],
    )


def test_each_queue_gets_its_newest_age_and_cloudwatch_is_read_once_a_minute(
    mocked_aws: None,
) -> None:
    put_age("messages", 10, minutes_ago=5)
    put_age("messages", 42, minutes_ago=2)
    put_age("messages-dlq", 7200, minutes_ago=3)
    put_age("other", 1, minutes_ago=1)
    clock = Clock()
    ages = OldestAges(
        boto3.client("cloudwatch", region_name="us-east-1"), clock=clock, now=lambda: NOW
    )
    names = ["messages", "messages-dlq", "billing"]
    assert ages.ages(names) == {"messages": 42.0, "messages-dlq": 7200.0}
    put_age("billing", 3, minutes_ago=1)
    clock.now += REFRESH_SECONDS - 1
    assert "billing" not in ages.ages(names)
    assert ages.reads == 1
    clock.now += 1
    assert ages.ages(names)["billing"] == 3.0
    assert ages.reads == 2


def test_an_unreadable_cloudwatch_leaves_ages_unknown_warns_once_and_waits_to_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106 - not a secret
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    clock = Clock()
    ages = OldestAges(unreachable, clock=clock)
    with caplog.at_level(logging.WARNING):
        assert ages.ages(["messages"]) == {}
        clock.now += RETRY_AFTER_ERROR_SECONDS - 1
        assert ages.ages(["messages"]) == {}
        assert ages.reads == 1
        clock.now += 1
        assert ages.ages(["messages"]) == {}
    assert ages.reads == 2
    warnings = [r for r in caplog.records if "queue ages unknown" in r.message]
    assert len(warnings) == 1
