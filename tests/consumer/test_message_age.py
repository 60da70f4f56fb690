"""The consumer's fleet metrics: how long messages waited before a receive, and how long from
creation until handled."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.testing import TestConsumer
from consumer.worker import Worker
from shared.aws import SqsQueue
from tests.conftest import make_settings
from tests.consumer.conftest import counter, send


def test_the_age_of_each_message_at_receive_is_observed(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    registry.register("job", lambda payload: None)
    send(queue)
    send(queue)
    time.sleep(0.3)
    worker = Worker(queue, registry, make_settings(), Metrics())
    worker.run(until_empty=True)
    labels = {"queue": queue.name}
    assert counter(worker.metrics, "sqs_message_age_seconds_count", **labels) == 2
    total = counter(worker.metrics, "sqs_message_age_seconds_sum", **labels)
    assert 0.6 <= total < 30  # both waited at least the 0.3 s before the receive


def test_end_to_end_runs_from_the_envelopes_creation_to_its_handler_succeeding() -> None:
    registry = HandlerRegistry(default=None)
    failed_once: list[str] = []

    @registry.handler("job")
    def job(payload: dict[str, Any]) -> None:
        if payload["fail"] and not failed_once:
            failed_once.append("yes")
            raise RuntimeError("not yet")

    with TestConsumer(registry) as consumer:
        created = datetime.now(UTC) - timedelta(seconds=5)
        consumer.send("job", {"fail": False}, created_at=created)
        consumer.send("job", {"fail": True}, created_at=created)
        assert len(consumer.drain().done) == 2
        metrics = consumer.worker.metrics
    labels = {"queue": consumer.queue.name}
    assert counter(metrics, "sqs_message_end_to_end_seconds_count", **labels) == 2  # once each
    assert counter(metrics, "sqs_message_end_to_end_seconds_sum", **labels) >= 10
