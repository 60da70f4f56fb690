from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from producer.main import create_app
from shared.aws import SqsQueue
from shared.messages.dead_letter import Reason
from shared.ops.dead_letters import DeadLetters
from shared.settings import ProducerSettings, Settings
from shared.topology.queues import QueuePair
from tests.shared.test_dlq import dead_letter, envelope, moved_by_sqs
from tests.support import enqueue

TOKEN = "s3cret-admin-token"  # noqa: S105 - a test value
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENDPOINTS = [
    ("GET", "/admin/dlq", None),
    ("POST", "/admin/dlq/redrive", None),
    ("POST", "/admin/dlq/purge", {"confirm": "messages-dlq"}),
]


@pytest.fixture
def admin_settings(settings: Settings) -> Settings:
    producer = ProducerSettings(admin_token=SecretStr(TOKEN))
    return settings.model_copy(update={"producer": producer})


@pytest.fixture
def admin(admin_settings: Settings, queues: QueuePair) -> Iterator[TestClient]:
    with TestClient(create_app(admin_settings)) as test_client:
        yield test_client


@pytest.fixture
def dead_letters(settings: Settings, queues: QueuePair) -> DeadLetters:
    """Two dead letters (one recorded by the consumer, one moved by SQS) and a view on them."""
    dead_letter(queues, envelope(1), Reason.RETRIES_EXHAUSTED, "TimeoutError: upstream")
    moved_by_sqs(queues)
    return DeadLetters.from_settings(settings)


def total(dead_letters: DeadLetters) -> int:
    depth = dead_letters.depth()
    return depth.visible + depth.in_flight


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_admin_is_disabled_without_a_token(
    client: TestClient, dead_letters: DeadLetters, method: str, path: str, body: object
) -> None:
    response = client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 403
    assert response.json() == {"detail": "admin endpoints are disabled; set PRODUCER_ADMIN_TOKEN"}
    assert total(dead_letters) == 2


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["missing", "wrong", "longer", "basic", "no-scheme"],
)
def test_a_missing_or_wrong_token_is_401(
    admin: TestClient,
    dead_letters: DeadLetters,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
) -> None:
    response = admin.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert total(dead_letters) == 2


def test_list_dead_letters(admin: TestClient, dead_letters: DeadLetters) -> None:
    response = admin.get("/admin/dlq", headers=AUTH)

    assert response.status_code == 200
    body = response.json()
    assert (body["queue"], body["count"], body["in_flight"]) == ("messages-dlq", 2, 0)
    by_reason = {m["reason"]: m for m in body["messages"]}
    assert set(by_reason) == {"retries_exhausted", "moved_by_sqs"}
    assert by_reason["retries_exhausted"]["error"] == "TimeoutError: upstream"
    assert by_reason["retries_exhausted"]["type"] == "order.created"
    assert by_reason["moved_by_sqs"]["envelope_id"] is None
    assert total(dead_letters) == 2, "looking does not consume"

    one = admin.get("/admin/dlq", params={"limit": 1}, headers=AUTH).json()
    assert (one["count"], len(one["messages"])) == (2, 1)
    assert admin.get("/admin/dlq", params={"limit": 0}, headers=AUTH).status_code == 422


def test_redrive(admin: TestClient, dead_letters: DeadLetters, settings: Settings) -> None:
    limited = admin.post("/admin/dlq/redrive", json={"max_messages": 1}, headers=AUTH)
    assert limited.status_code == 200
    assert limited.json()["moved"] == 1
    assert total(dead_letters) == 1

    response = admin.post("/admin/dlq/redrive", headers=AUTH)

    assert response.status_code == 200
    body = response.json()
    assert (body["moved"], body["failed"], body["method"]) == (1, 0, "move-loop")
    assert total(dead_letters) == 0
    source = SqsQueue.from_settings(settings)
    assert len(source.receive(max_messages=10, wait_time_seconds=0)) == 2
    assert (
        admin.post("/admin/dlq/redrive", json={"max_messages": 0}, headers=AUTH).status_code == 422
    )


def test_purge(admin: TestClient, dead_letters: DeadLetters, settings: Settings) -> None:
    enqueue(SqsQueue.from_settings(settings), envelope(7))

    response = admin.post("/admin/dlq/purge", json={"confirm": "messages-dlq"}, headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {"purged": True, "queue": "messages-dlq"}
    assert total(dead_letters) == 0
    source = SqsQueue.from_settings(settings).attributes("ApproximateNumberOfMessages")
    assert source == {"ApproximateNumberOfMessages": "1"}
    again = admin.post("/admin/dlq/purge", json={"confirm": "messages-dlq"}, headers=AUTH)
    assert again.status_code == 409
    assert "PurgeQueueInProgress" in again.json()["detail"]


@pytest.mark.parametrize("confirm", ["messages", "MESSAGES-DLQ", ""])
def test_purge_refuses_a_wrong_confirmation(
    admin: TestClient, dead_letters: DeadLetters, confirm: str
) -> None:
    response = admin.post("/admin/dlq/purge", json={"confirm": confirm}, headers=AUTH)
    assert response.status_code == 409
    assert "'messages-dlq'" in response.json()["detail"]
    assert total(dead_letters) == 2
    assert admin.post("/admin/dlq/purge", json={}, headers=AUTH).status_code == 422


def test_a_missing_dlq_is_503_with_retry_after(admin: TestClient, queues: QueuePair) -> None:
    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=queues.dlq_url)

    response = admin.get("/admin/dlq", headers=AUTH)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json()["detail"] == "messages-dlq: queue 'messages-dlq' does not exist"


def test_admin_endpoints_are_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, method in [
        ("/admin/dlq", "get"),
        ("/admin/dlq/redrive", "post"),
        ("/admin/dlq/purge", "post"),
    ]:
        operation = spec["paths"][path][method]
        assert operation["tags"] == ["admin"]
        assert {"401", "403", "503"} <= set(operation["responses"])
        assert operation["security"] == [{"HTTPBearer": []}]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
