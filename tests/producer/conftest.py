from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from producer.main import create_app
from shared.aws import SqsQueue
from shared.settings import Settings
from shared.topology.queues import QueuePair


@pytest.fixture
def client(settings: Settings, queues: QueuePair) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def stored(settings: Settings, queues: QueuePair) -> SqsQueue:
    """The queue as the consumer sees it, to check what was (not) stored."""
    return SqsQueue.from_settings(settings)
