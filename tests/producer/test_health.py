from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from producer.main import create_app
from scripts.processes import free_port
from tests.conftest import make_settings


def test_healthz_and_readyz_when_the_queue_answers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_is_503_when_sqs_is_down_but_healthz_stays_ok() -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=0.5
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"


def test_openapi_documents_the_endpoint_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/messages"]["post"]
    assert set(post["responses"]) >= {"202", "400", "413", "415", "422", "503"}
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert "order" in examples
    assert client.get("/docs").status_code == 200


def test_metrics_count_the_sqs_requests_made(client: TestClient) -> None:
    def sends() -> float:
        total = 0.0
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('aws_requests_total{operation="SendMessage'):
                total += float(line.split()[-1])
        return total

    before = sends()
    for n in range(3):
        assert client.post("/messages", json={"type": "a", "payload": {"n": n}}).status_code == 202
    assert sends() == before + 3


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/", "/topics"])
def test_head_answers_wherever_get_does_with_its_headers_and_no_body(
    client: TestClient, path: str
) -> None:
    got, head = client.get(path), client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_head_on_a_post_only_route_is_still_refused(client: TestClient) -> None:
    assert client.head("/messages").status_code == 405
