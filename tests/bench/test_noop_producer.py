"""The benchmark's HTTP ceiling (d) serves the real app over a queue that reaches nothing:
it must accept what the real producer accepts, or (d) measures nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bench.noop_producer import NoopQueue
from producer.main import create_app
from shared.settings import Settings


def test_the_noop_producer_accepts_single_and_batched_posts_without_a_network() -> None:
    settings = Settings(_env_file=None, sqs={"events_queue_name": ""})
    app = create_app(settings, queue=NoopQueue(settings.sqs.queue_name))
    with TestClient(app) as client:
        one = client.post("/messages", json={"type": "t", "payload": {"n": 1}})
        many = client.post(
            "/messages/batch",
            json={"messages": [{"type": "t", "payload": {"n": n}} for n in range(12)]},
        )
    assert one.status_code == 202, one.text
    assert many.status_code == 202, many.text
    assert many.json()["accepted"] == 12
