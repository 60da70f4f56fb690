from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from uuid import UUID

import boto3
import pytest
from fastapi.testclient import TestClient
from typing_extensions import override

from producer.main import create_app
from scripts.processes import free_port
from shared.aws import BatchSendResult, OutgoingMessage, SqsQueue
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.queues import QueuePair
from tests.conftest import make_settings

ORDER = {"type": "order.created", "payload": {"order_id": "A-1", "amount": 9.5}}


def stored_messages(queue: SqsQueue) -> list[Envelope]:
    return [Envelope.from_body(m.body) for m in queue.receive(max_messages=10, wait_time_seconds=0)]


def test_accepted_message_is_in_the_queue_as_an_envelope(
    client: TestClient, stored: SqsQueue
) -> None:
    response = client.post("/messages", json={**ORDER, "attributes": {"tenant": "acme"}})
    assert response.status_code == 202
    body = response.json()
    [envelope] = stored_messages(stored)
    assert UUID(body["id"]) == UUID(envelope.id)
    assert envelope.type == "order.created"
    assert envelope.payload == ORDER["payload"]
    assert envelope.attributes == {"tenant": "acme"}
    assert body["correlation_id"] == envelope.correlation_id
    assert response.headers["X-Correlation-ID"] == envelope.correlation_id
    assert body["message_id"]


def test_correlation_id_comes_from_the_body_or_the_header(
    client: TestClient, stored: SqsQueue
) -> None:
    from_header = client.post("/messages", json=ORDER, headers={"X-Correlation-ID": "hdr-1"})
    from_body = client.post(
        "/messages", json={**ORDER, "correlation_id": "body-1"}, headers={"X-Correlation-ID": "h"}
    )
    assert from_header.json()["correlation_id"] == "hdr-1"
    assert from_body.json()["correlation_id"] == "body-1"
    assert {e.correlation_id for e in stored_messages(stored)} == {"hdr-1", "body-1"}


def test_delay_seconds_holds_the_message_back(client: TestClient, stored: SqsQueue) -> None:
    assert client.post("/messages", json={**ORDER, "delay_seconds": 60}).status_code == 202
    assert stored_messages(stored) == []
    assert stored.attributes("ApproximateNumberOfMessagesDelayed") == {
        "ApproximateNumberOfMessagesDelayed": "1"
    }


def test_malformed_json_is_a_400_and_nothing_is_sent(client: TestClient, stored: SqsQueue) -> None:
    response = client.post(
        "/messages", content=b'{"type": "a", ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON")
    assert stored_messages(stored) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": {}}, "type"),
        ({"type": "a"}, "payload"),
        ({"type": "a", "payload": [1, 2]}, "payload"),
        ({"type": "has spaces", "payload": {}}, "type"),
        ({"type": "a", "payload": {}, "delay_seconds": 901}, "delay_seconds"),
        ({"type": "a", "payload": {}, "attributes": {"type": "x"}}, "attributes"),
        ({"type": "a", "payload": {}, "attributes": {"n": 1}}, "attributes.n"),
        ({"type": "a", "payload": {}, "colour": "red"}, "colour"),
    ],
)
def test_schema_violations_are_422_naming_the_field(
    client: TestClient, stored: SqsQueue, body: dict[str, object], field: str
) -> None:
    response = client.post("/messages", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert field in problem["message"]
    assert any(".".join(map(str, e["loc"][1:])) == field for e in problem["detail"])
    assert stored_messages(stored) == []


def test_a_json_array_is_a_422(client: TestClient) -> None:
    assert client.post("/messages", json=[ORDER]).status_code == 422


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
def test_non_json_content_type_is_a_415(
    client: TestClient, stored: SqsQueue, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/messages", content=json.dumps(ORDER).encode(), headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert stored_messages(stored) == []


def test_json_with_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/messages",
        content=json.dumps(ORDER).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 202


def test_larger_than_the_queue_accepts_is_a_413(
    settings: Settings, queues: QueuePair, stored: SqsQueue
) -> None:
    boto3.client("sqs", region_name="us-east-1").set_queue_attributes(
        QueueUrl=queues.queue_url, Attributes={"MaximumMessageSize": "2048"}
    )
    with TestClient(create_app(settings)) as client:
        fits = client.post("/messages", json={"type": "a", "payload": {"x": "y" * 1000}})
        too_big = client.post("/messages", json={"type": "a", "payload": {"x": "y" * 2048}})
    assert fits.status_code == 202
    assert too_big.status_code == 413
    assert "2048" in too_big.json()["detail"]
    assert len(stored_messages(stored)) == 1


def test_a_body_over_the_request_limit_is_refused_before_reading(
    queues: QueuePair, stored: SqsQueue
) -> None:
    settings = make_settings()
    settings.producer.max_body_bytes = 4096
    with TestClient(create_app(settings)) as client:
        response = client.post("/messages", json={"type": "a", "payload": {"x": "y" * 5000}})
    assert response.status_code == 413
    assert "4096" in response.json()["detail"]
    assert stored_messages(stored) == []


def test_sqs_unreachable_is_a_503_with_retry_after() -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2, connect_timeout=0.5
    )
    with TestClient(create_app(settings)) as client:
        response = client.post("/messages", json=ORDER)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.producer.retry_after_seconds)
    assert response.json()["detail"].startswith("message not stored")


def test_a_missing_queue_is_a_503(settings: Settings, mocked_aws: None) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.post("/messages", json=ORDER)
    assert response.status_code == 503
    assert "does not exist" in response.json()["detail"]


class ExplodingQueue(SqsQueue):
    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        raise RuntimeError("secret internals")


def test_an_unexpected_error_is_a_json_500_without_internals(
    settings: Settings, queues: QueuePair
) -> None:
    queue = ExplodingQueue(boto3.client("sqs", region_name="us-east-1"), "messages")
    app = create_app(settings, queue=queue)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/messages", json=ORDER)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; nothing was sent"}
    assert "secret" not in response.text


def test_a_streamed_body_over_the_limit_is_refused(queues: QueuePair, stored: SqsQueue) -> None:
    settings = make_settings()
    settings.producer.max_body_bytes = 4096

    def chunks() -> Iterator[bytes]:
        yield b'{"type": "a", "payload": {"x": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}}'

    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/messages", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert stored_messages(stored) == []


def test_every_request_gives_its_body_budget_back_whatever_its_answer(
    queues: QueuePair, stored: SqsQueue
) -> None:
    settings = make_settings()
    settings.producer.max_body_bytes = 4096
    settings.producer.max_body_bytes_in_flight = 4096  # one large body at a time
    order = json.dumps({"type": "a", "payload": {"x": "y" * 3000}}).encode()

    def streamed(body: bytes) -> Iterator[bytes]:
        yield from (body[i : i + 1000] for i in range(0, len(body), 1000))

    kinds: list[tuple[Callable[[], bytes | Iterator[bytes]], int]] = [
        (lambda: order, 202),
        (lambda: b"{" + b" " * 3000, 400),
        (lambda: order, 202),
        (lambda: streamed(order), 202),
        (lambda: streamed(b"z" * 5000), 413),
        (lambda: streamed(b"{" + b" " * 3000), 400),
    ]
    with TestClient(create_app(settings)) as client:
        for _ in range(3):  # each round takes the whole budget several times over
            for content, status in kinds:
                response = client.post(
                    "/messages",
                    content=content(),
                    headers={"Content-Type": "application/json"},
                )
                assert response.status_code == status, response.text
    assert len(stored_messages(stored)) == 9
