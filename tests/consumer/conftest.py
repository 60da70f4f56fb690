from __future__ import annotations

from typing import Any

import pytest

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.worker import Worker
from shared.aws import SqsQueue
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.queues import QueuePair
from tests.support import enqueue


@pytest.fixture
def queue(settings: Settings, queues: QueuePair) -> SqsQueue:
    return SqsQueue.from_settings(settings)


@pytest.fixture
def registry() -> HandlerRegistry:
    return HandlerRegistry()


@pytest.fixture
def worker(queue: SqsQueue, registry: HandlerRegistry, settings: Settings) -> Worker:
    return Worker(queue, registry, settings, Metrics())


def send(queue: SqsQueue, type_: str = "job", **payload: Any) -> Envelope:
    envelope = Envelope(type=type_, payload=payload)
    enqueue(queue, envelope)
    return envelope


def counter(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0
