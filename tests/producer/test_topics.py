"""POST /topics/{topic}/messages and GET /topics over moto's in-process SNS and SQS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from producer.main import create_app
from producer.sending.batcher import SendBatcher
from producer.sending.publishers import TopicPublishers
from producer.sending.sender import DirectSender, Sender
from scripts.processes import free_port
from shared.aws import ReceivedMessage, SqsQueue
from shared.aws.limits import SNS_MAX_MESSAGE_BYTES
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from shared.topology.topics import TopicsConfigError
from tests.conftest import make_settings

TOPICS = """
[topics.orders]
[[topics.orders.subscriptions]]
queue = "billing"
filter_policy = { type = ["order.created", "order.paid"] }

[[topics.orders.subscriptions]]
queue = "acme"
filter_policy = { tenant = ["acme"] }

[[topics.orders.subscriptions]]
queue = "audit"

[topics."pay.fifo"]
[[topics."pay.fifo".subscriptions]]
queue = "ledger.fifo"
"""

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}


@pytest.fixture
def topics_settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "topics.toml"
    path.write_text(TOPICS)
    settings.topics.file = path
    return settings


@pytest.fixture
def client(topics_settings: Settings, mocked_aws: None) -> Iterator[TestClient]:
    ensure_resources(topics_settings)
    with TestClient(create_app(topics_settings)) as test_client:
        yield test_client


def drain(settings: Settings, queue: str) -> list[ReceivedMessage]:
    source = SqsQueue.from_settings(settings, queue_name=queue)
    found: list[ReceivedMessage] = []
    for _ in range(10):
        batch = source.receive(max_messages=10, wait_time_seconds=0, visibility_timeout=60)
        if not batch:
            break
        found.extend(batch)
    return found


def ids(settings: Settings, queue: str) -> set[str]:
    return {str(Envelope.from_body(m.body).id) for m in drain(settings, queue)}


def requests(operation: str) -> float:
    labels = {"service": "sns", "operation": operation}
    return REGISTRY.get_sample_value("aws_requests_total", labels) or 0.0


def test_a_published_message_reaches_the_queues_whose_filters_match(
    client: TestClient, topics_settings: Settings
) -> None:
    sent = {}
    for type_, tenant in [("order.created", "acme"), ("order.shipped", "acme"), ("order.paid", "")]:
        body = {"type": type_, "payload": {}, "attributes": {"tenant": tenant} if tenant else {}}
        response = client.post("/topics/orders/messages", json=body)
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["topic"] == "orders"
        assert answer["message_id"]
        assert response.headers["X-Correlation-ID"] == answer["correlation_id"]
        sent[(type_, tenant)] = str(UUID(answer["id"]))
    assert ids(topics_settings, "billing") == {
        sent[("order.created", "acme")],
        sent[("order.paid", "")],
    }
    assert ids(topics_settings, "acme") == {
        sent[("order.created", "acme")],
        sent[("order.shipped", "acme")],
    }
    assert ids(topics_settings, "audit") == set(sent.values())


def test_the_queue_gets_the_envelope_and_attributes_of_a_direct_send(
    client: TestClient, topics_settings: Settings
) -> None:
    body = {**ORDER, "attributes": {"tenant": "acme"}, "correlation_id": "c-1"}
    answer = client.post("/topics/orders/messages", json=body).json()
    [message] = drain(topics_settings, "audit")
    envelope = Envelope.from_body(message.body)
    assert str(envelope.id) == answer["id"]
    assert envelope.correlation_id == "c-1"
    assert envelope.payload == ORDER["payload"]
    attributes = {name: message.text_attribute(name) for name in message.attributes}
    assert str(attributes.pop("traceparent")).startswith("00-")  # the send's trace context
    assert attributes == {"type": "order.created", "correlation_id": "c-1", "tenant": "acme"}


def test_an_unknown_topic_is_a_404_naming_the_known_ones(client: TestClient) -> None:
    response = client.post("/topics/refunds/messages", json=ORDER)
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown topic 'refunds'; known topics: orders, pay.fifo"


def test_a_60000_character_topic_name_is_not_echoed_back_whole(client: TestClient) -> None:
    response = client.post(f"/topics/{'t' * 60_000}/messages", json=ORDER)
    assert response.status_code == 404
    assert len(response.content) <= 4096  # refusals stay small
    assert "known topics: orders, pay.fifo" in response.json()["detail"]


def test_topics_are_listed_with_their_queues_and_filters(client: TestClient) -> None:
    listed = client.get("/topics").json()["topics"]
    assert [t["name"] for t in listed] == ["orders", "pay.fifo"]
    orders, payments = listed
    assert not orders["fifo"]
    assert orders["subscriptions"][0] == {
        "queue": "billing",
        "filter_policy": {"type": ["order.created", "order.paid"]},
        "filter_scope": "MessageAttributes",
    }
    assert orders["subscriptions"][2]["filter_policy"] is None
    assert payments["fifo"]
    assert [s["queue"] for s in payments["subscriptions"]] == ["ledger.fifo"]


def test_a_fifo_topic_needs_a_group_id_and_delivers_with_it(
    client: TestClient, topics_settings: Settings
) -> None:
    missing = client.post("/topics/pay.fifo/messages", json=ORDER)
    assert missing.status_code == 422
    assert missing.json()["message"] == "group_id: required: topic 'pay.fifo' is FIFO"
    response = client.post("/topics/pay.fifo/messages", json={**ORDER, "group_id": "acct-1"})
    assert response.status_code == 202, response.text
    queue = SqsQueue.from_settings(topics_settings, queue_name="ledger.fifo")
    [raw] = queue.client.receive_message(
        QueueUrl=queue.url, MessageSystemAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert raw["Attributes"]["MessageGroupId"] == "acct-1"
    # No content-based deduplication on this topic: the envelope id deduplicates.
    assert raw["Attributes"]["MessageDeduplicationId"] == response.json()["id"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"group_id": "g"}, "group_id"),
        ({"deduplication_id": "d"}, "deduplication_id"),
        ({"delay_seconds": 5}, "delay_seconds"),
    ],
)
def test_fields_a_standard_topic_cannot_honour_are_refused(
    client: TestClient, topics_settings: Settings, extra: dict[str, object], field: str
) -> None:
    response = client.post("/topics/orders/messages", json={**ORDER, **extra})
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}: applies only to")
    assert drain(topics_settings, "audit") == []


def test_fifo_ids_follow_aws_rules(client: TestClient) -> None:
    for bad in ("has space", "x" * 129, "é"):
        body = {**ORDER, "group_id": bad}
        assert client.post("/topics/pay.fifo/messages", json=body).status_code == 422


def test_the_queue_endpoint_refuses_fifo_fields_for_a_standard_queue(
    client: TestClient,
) -> None:
    response = client.post("/messages", json={**ORDER, "group_id": "g"})
    assert response.status_code == 422
    assert "group_id: applies only to FIFO destinations" in response.json()["message"]
    batch = {"messages": [ORDER, {**ORDER, "deduplication_id": "d"}]}
    response = client.post("/messages/batch", json=batch)
    assert response.status_code == 422
    assert response.json()["message"].startswith("messages.1.deduplication_id: applies only")


def sender(client: TestClient, topic: str) -> Sender:
    publishers: TopicPublishers = client.app.state.publishers  # type: ignore[attr-defined]
    target = publishers.get(topic)
    assert target is not None
    return target.sender


def test_publishes_are_batched_unless_batching_is_off(
    topics_settings: Settings, mocked_aws: None
) -> None:
    """Batching off, each message still goes in a PublishBatch (the one send path), its own."""
    ensure_resources(topics_settings)
    batched, single = requests("PublishBatch"), requests("Publish")
    with TestClient(create_app(topics_settings)) as client:
        assert isinstance(sender(client, "orders"), SendBatcher)
        assert client.post("/topics/orders/messages", json=ORDER).status_code == 202
    assert (requests("PublishBatch") - batched, requests("Publish") - single) == (1, 0)
    topics_settings.producer.batching = False
    with TestClient(create_app(topics_settings)) as client:
        assert isinstance(sender(client, "orders"), DirectSender)
        assert client.post("/topics/orders/messages", json=ORDER).status_code == 202
    assert (requests("PublishBatch") - batched, requests("Publish") - single) == (2, 0)
    assert len(drain(topics_settings, "audit")) == 2


def test_a_message_larger_than_sns_takes_is_a_413(
    client: TestClient, topics_settings: Settings
) -> None:
    body = {"type": "big", "payload": {"x": "y" * SNS_MAX_MESSAGE_BYTES}}
    response = client.post("/topics/orders/messages", json=body)
    assert response.status_code == 413
    assert "topic 'orders' accepts at most 262144" in response.json()["detail"]


def test_a_topic_bootstrap_has_not_made_is_a_503(
    topics_settings: Settings, mocked_aws: None
) -> None:
    with TestClient(create_app(topics_settings)) as client:
        response = client.post("/topics/orders/messages", json=ORDER)
    assert response.status_code == 503
    assert response.json()["detail"] == "message not stored: topic 'orders' does not exist"


def test_sns_unreachable_is_a_503_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=0.3
    )
    settings.topics.file = tmp_path / "topics.toml"
    settings.topics.file.write_text(TOPICS)
    with TestClient(create_app(settings)) as client:
        response = client.post("/topics/orders/messages", json=ORDER)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.producer.retry_after_seconds)
    assert "SNS unreachable" in response.json()["detail"]


def test_a_bad_topics_file_stops_the_app_from_being_built(tmp_path: Path) -> None:
    settings = make_settings()
    settings.topics.file = tmp_path / "topics.toml"
    settings.topics.file.write_text(
        '[topics."pay.fifo"]\n[[topics."pay.fifo".subscriptions]]\nqueue = "x"\n'
    )
    with pytest.raises(TopicsConfigError, match=r"topic 'pay\.fifo': queue 'x'"):
        create_app(settings)


def test_a_published_message_has_a_status_at_once(client: TestClient) -> None:
    answer = client.post("/topics/orders/messages", json=ORDER)
    assert answer.status_code == 202, answer.text
    status = client.get(f"/messages/{answer.json()['id']}").json()
    assert status["stage"] == "accepted"
    assert status["queue"] == "orders"
