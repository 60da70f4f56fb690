"""POST /messages/batch, and the switch that turns batching of single POSTs off."""

from __future__ import annotations

import boto3
from fastapi.testclient import TestClient

from producer.main import create_app
from producer.sending.sender import DirectSender
from producer.sending.targets import Target
from scripts.processes import free_port
from shared.aws import SqsQueue
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.queues import QueuePair
from tests.conftest import make_settings


def sqs_calls(client: TestClient, operation: str) -> float:
    prefix = f'aws_requests_total{{operation="{operation}",service="sqs"}}'
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def drain(queue: SqsQueue) -> list[Envelope]:
    found: list[Envelope] = []
    for _ in range(20):
        batch = queue.receive(max_messages=10, wait_time_seconds=0)
        if not batch:
            break
        found += [Envelope.from_body(m.body) for m in batch]
    return found


def messages(n: int, **extra: object) -> dict[str, object]:
    return {"messages": [{"type": "order.created", "payload": {"n": i}, **extra} for i in range(n)]}


def test_a_batch_is_stored_in_batches_of_ten(client: TestClient, stored: SqsQueue) -> None:
    before = sqs_calls(client, "SendMessageBatch")
    response = client.post("/messages/batch", json=messages(25))
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["failed"]) == (25, 0)
    assert [r["index"] for r in body["results"]] == list(range(25))
    assert sqs_calls(client, "SendMessageBatch") - before == 3
    stored_envelopes = {str(e.id): e.payload["n"] for e in drain(stored)}
    assert stored_envelopes == {r["id"]: r["index"] for r in body["results"]}


def test_a_message_too_large_fails_alone(
    settings: Settings, queues: QueuePair, stored: SqsQueue
) -> None:
    boto3.client("sqs", region_name="us-east-1").set_queue_attributes(
        QueueUrl=queues.queue_url, Attributes={"MaximumMessageSize": "2048"}
    )
    batch = messages(3)
    batch["messages"][1]["payload"] = {"x": "y" * 3000}  # type: ignore[index]
    with TestClient(create_app(settings)) as client:
        response = client.post("/messages/batch", json=batch)
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 413, 202]
    assert "2048" in results[1]["detail"]
    assert len(drain(stored)) == 2


def test_an_invalid_message_is_named_by_its_index(client: TestClient, stored: SqsQueue) -> None:
    batch = messages(5)
    batch["messages"][3]["type"] = "has spaces"  # type: ignore[index]
    response = client.post("/messages/batch", json=batch)
    assert response.status_code == 422
    assert "messages.3.type" in response.json()["message"]
    assert drain(stored) == []  # nothing half-sent


def test_more_messages_than_allowed_is_a_413(queues: QueuePair, stored: SqsQueue) -> None:
    settings = make_settings()
    settings.producer.max_batch_messages = 5
    with TestClient(create_app(settings)) as client:
        response = client.post("/messages/batch", json=messages(6))
    assert response.status_code == 413
    assert "at most 5" in response.json()["detail"]
    assert drain(stored) == []


def test_sqs_down_is_a_503_with_retry_after() -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=0.3
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/messages/batch", json=messages(2))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.producer.retry_after_seconds)


def test_with_batching_off_each_post_is_one_send_call_of_its_own(queues: QueuePair) -> None:
    """One send path: a POST sends a SendMessageBatch of one, not coalesced with others."""
    settings = make_settings()
    settings.producer.batching = False
    with TestClient(create_app(settings)) as client:
        target: Target = client.app.state.queue_target  # type: ignore[attr-defined]
        assert isinstance(target.sender, DirectSender)
        before = (sqs_calls(client, "SendMessage"), sqs_calls(client, "SendMessageBatch"))
        for n in range(3):
            assert (
                client.post("/messages", json={"type": "a", "payload": {"n": n}}).status_code == 202
            )
        after = (sqs_calls(client, "SendMessage"), sqs_calls(client, "SendMessageBatch"))
    assert (after[0] - before[0], after[1] - before[1]) == (0, 3)
