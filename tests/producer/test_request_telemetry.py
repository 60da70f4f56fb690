"""One line per request, by route template, with its status, duration and the ids of the
message it sent."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.json_log import JsonLines, json_log

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}


def request_lines(captured: JsonLines) -> list[dict[str, Any]]:
    return [line for line in captured.lines() if line["logger"] == "producer.requests"]


def test_a_post_logs_one_line_with_its_route_status_duration_and_message_ids(
    client: TestClient,
) -> None:
    with json_log() as captured:
        answer = client.post("/messages", json=ORDER, headers={"X-Correlation-ID": "checkout-7"})
    assert answer.status_code == 202
    (line,) = request_lines(captured)
    assert line["method"] == "POST"
    assert line["route"] == "/messages"
    assert line["status"] == 202
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["correlation_id"] == "checkout-7"
    assert line["envelope_id"] == answer.json()["id"]
    assert line["message_id"] == answer.json()["message_id"]
    assert line["queue"] == "messages"


def test_lines_name_the_route_template_never_the_path_a_client_wrote(
    client: TestClient,
) -> None:
    with json_log() as captured:
        assert client.get("/messages/no-such-id").status_code == 404
        assert client.get("/nowhere/%1b[2J").status_code == 404
        assert client.head("/healthz").status_code == 200
        bad = client.post(
            "/messages", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 400
    lines = request_lines(captured)
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("GET", "/messages/{id:envelope_id}", 404),
        ("GET", "(no route)", 404),
        ("HEAD", "/healthz", 200),
        ("POST", "/messages", 400),
    ]
    assert all("no-such-id" not in str(x) and "nowhere" not in str(x) for x in lines)


def test_the_request_histogram_counts_by_route_and_status_and_bounds_the_method(
    client: TestClient,
) -> None:
    def count(method: str, route: str, status: str) -> float:
        labels = {"method": method, "route": route, "status": status}
        value = REGISTRY.get_sample_value("producer_http_request_duration_seconds_count", labels)
        return value or 0.0

    before = count("POST", "/messages", "202"), count("other", "/messages", "405")
    assert client.post("/messages", json=ORDER).status_code == 202
    assert client.request("BREW", "/messages").status_code == 405
    after = count("POST", "/messages", "202"), count("other", "/messages", "405")
    assert after == (before[0] + 1, before[1] + 1)
    assert (
        REGISTRY.get_sample_value(
            "producer_http_request_duration_seconds_count",
            {"method": "BREW", "route": "/messages", "status": "405"},
        )
        is None
    )
