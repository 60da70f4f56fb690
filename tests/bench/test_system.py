"""(c) runs the services as shipped: status events on, through a topic and queue of the run's
own, and their requests counted with the messages' own."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from bench.endpoint import fresh_queues
from bench.system import events_name, measure_system, running_system
from scripts.processes import wait_for

pytestmark = pytest.mark.e2e


def queue_names(endpoint_url: str) -> set[str]:
    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    urls = sqs.list_queues(MaxResults=1000).get("QueueUrls", [])
    return {url.rsplit("/", 1)[-1] for url in urls}


def test_the_system_counts_its_status_events_requests_and_leaves_no_events_queue(
    moto_server: str, tmp_path: Path, bench_environment: dict[str, str]
) -> None:
    with fresh_queues(moto_server, "t", wait_seconds=1) as settings:
        name = events_name(settings)
        with running_system(bench_environment, settings, tmp_path) as system:
            assert name in queue_names(moto_server)
            m = measure_system(system, messages=60, clients=4, cap=50, timeout=60)
            # The consumer publishes its events once a second, so a run this short may end
            # before the first publish: wait for it, bounded, on the counts the run uses.
            published = wait_for(
                lambda: system.aws_requests().get("SNS PublishBatch", 0) >= 1,
                system.consumer,
                10,
                "the consumer's first status events publish",
            )
    assert m.messages == 60
    assert m.operations.get("SendMessageBatch", 0) >= 1
    assert published, "no SNS PublishBatch counted"  # the consumer's events, with the rest
    assert m.requests == sum(m.operations.values())
    assert name not in queue_names(moto_server)
