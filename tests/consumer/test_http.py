from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from consumer.health_server import serve_status
from consumer.metrics import Metrics
from tests.support import http_status


@pytest.fixture
def status_server() -> Iterator[tuple[str, list[bool], Metrics]]:
    healthy = [True]
    metrics = Metrics()
    server = serve_status("127.0.0.1", 0, lambda: healthy[0], metrics.registry)
    yield f"http://127.0.0.1:{server.server_address[1]}", healthy, metrics
    server.shutdown()
    server.server_close()


def test_healthz_follows_the_worker(status_server: tuple[str, list[bool], Metrics]) -> None:
    url, healthy, _ = status_server
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310
        assert json.loads(response.read()) == {"status": "ok"}
    healthy[0] = False
    assert http_status(f"{url}/healthz") == 503


def test_metrics_are_prometheus_text(status_server: tuple[str, list[bool], Metrics]) -> None:
    url, _, metrics = status_server
    metrics.received.inc(3)
    metrics.deleted.inc(2)
    metrics.failed.labels("handler_error").inc()
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    assert "sqs_messages_received_total 3.0" in text
    assert "sqs_messages_deleted_total 2.0" in text
    assert 'sqs_messages_failed_total{reason="handler_error"} 1.0' in text
    assert "sqs_messages_processed_total" in text


def test_other_paths_are_404(status_server: tuple[str, list[bool], Metrics]) -> None:
    assert http_status(f"{status_server[0]}/nope") == 404
