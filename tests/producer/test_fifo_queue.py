"""POST /messages to a FIFO queue: group id required, deduplication honoured, order kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from producer.main import create_app
from shared.aws import ReceivedMessage, SqsQueue
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.resources import ensure_queues
from tests.conftest import make_settings


@pytest.fixture
def fifo_settings(mocked_aws: None) -> Settings:
    settings = make_settings(queue_name="jobs.fifo", dlq_name="jobs-dlq.fifo")
    ensure_queues(settings)
    return settings


@pytest.fixture
def client(fifo_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(fifo_settings)) as test_client:
        yield test_client


def drain(settings: Settings) -> list[ReceivedMessage]:
    queue = SqsQueue.from_settings(settings)
    received: list[ReceivedMessage] = []
    for _ in range(10):
        batch = queue.receive(max_messages=10, wait_time_seconds=0)
        if not batch:
            break
        received += batch
        queue.delete_batch([m.receipt_handle for m in batch])
    return received


def test_messages_keep_their_group_and_order(client: TestClient, fifo_settings: Settings) -> None:
    ids = []
    for n in range(5):
        answer = client.post("/messages", json={"type": "t", "payload": {"n": n}, "group_id": "g"})
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    received = drain(fifo_settings)
    assert [str(Envelope.from_body(m.body).id) for m in received] == ids
    assert {m.group_id for m in received} == {"g"}


def test_a_repeated_deduplication_id_is_stored_once(
    client: TestClient, fifo_settings: Settings
) -> None:
    body = {"type": "t", "payload": {}, "group_id": "g", "deduplication_id": "order-7"}
    first, again = client.post("/messages", json=body), client.post("/messages", json=body)
    assert (first.status_code, again.status_code) == (202, 202)  # SQS accepts, then drops
    assert len(drain(fifo_settings)) == 1


def test_without_a_group_id_or_with_a_delay_it_is_refused(
    client: TestClient, fifo_settings: Settings
) -> None:
    missing = client.post("/messages", json={"type": "t", "payload": {}})
    assert missing.status_code == 422
    assert "group_id" in missing.text
    assert "FIFO" in missing.text
    delayed = client.post(
        "/messages", json={"type": "t", "payload": {}, "group_id": "g", "delay_seconds": 5}
    )
    assert delayed.status_code == 422
    assert "delay" in delayed.text
    assert drain(fifo_settings) == []


def test_a_batch_to_a_fifo_queue_keeps_each_messages_group(
    client: TestClient, fifo_settings: Settings
) -> None:
    messages = [{"type": "t", "payload": {"n": n}, "group_id": f"g{n % 2}"} for n in range(6)]
    answer = client.post("/messages/batch", json={"messages": messages})
    assert answer.status_code == 202, answer.text
    received = drain(fifo_settings)
    groups: dict[str | None, list[int]] = {}
    for message in received:
        groups.setdefault(message.group_id, []).append(
            Envelope.from_body(message.body).payload["n"]
        )
    assert groups == {"g0": [0, 2, 4], "g1": [1, 3, 5]}
