"""GET /messages/{id}: the status the producer keeps, its 404 and its 422."""

from __future__ import annotations

from urllib.parse import quote
from uuid import uuid4

from fastapi.testclient import TestClient

from producer.tracking.tracker import Tracking
from shared.messages.status_events import Stage
from tests.producer.events import event

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}


def test_an_accepted_message_has_a_status_at_once(client: TestClient) -> None:
    message = client.post("/messages", json=ORDER).json()["id"]
    answer = client.get(f"/messages/{message}")
    assert answer.status_code == 200
    status = answer.json()
    assert status["id"] == message
    assert status["stage"] == "accepted"
    assert status["type"] == "order.created"
    assert status["queue"] == "messages"
    assert status["attempts"] == 0
    assert [entry["stage"] for entry in status["history"]] == ["accepted"]


def test_later_stages_show_as_they_are_heard(client: TestClient) -> None:
    message = client.post("/messages", json=ORDER).json()["id"]
    tracking: Tracking = client.app.state.tracking  # type: ignore[attr-defined]
    later = [
        event(Stage.RECEIVED, 1, id=message),
        event(Stage.DONE, 2, id=message, latency_ms=40.0),
        event(Stage.PROCESSING, 1.5, id=message),  # late: the stage stays done
    ]
    assert client.portal is not None
    client.portal.call(tracking.tracker.record, later)
    status = client.get(f"/messages/{message}").json()
    assert status["stage"] == "done"
    assert status["latency_ms"] == 40.0
    assert status["attempts"] == 1
    assert len(status["history"]) == 4


def test_an_unknown_id_is_404_and_says_why(client: TestClient) -> None:
    unknown = uuid4()
    answer = client.get(f"/messages/{unknown}")
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert str(unknown) in detail
    assert "has not seen it" in detail
    assert "10000" in detail


def test_an_id_that_no_sender_could_have_chosen_is_422_naming_the_parameter(
    client: TestClient,
) -> None:
    for malformed in ("x" * 257, "caf%C3%A9"):
        answer = client.get(f"/messages/{malformed}")
        assert answer.status_code == 422, malformed
        assert answer.json()["message"].startswith("path.id:")


def test_a_senders_own_id_is_looked_up_even_with_slashes_in_it(client: TestClient) -> None:
    """Ids of messages other systems wrote are not UUIDs: S3 keys, `<MessageId>#2`, ARNs."""
    tracking: Tracking = client.app.state.tracking  # type: ignore[attr-defined]
    foreign = "arn:aws:s3:::bucket/reports/2026 q1.csv#2"
    assert client.portal is not None
    client.portal.call(tracking.tracker.record, [event(Stage.RECEIVED, 1, id=foreign)])
    answer = client.get("/messages/" + quote(foreign, safe=""))
    assert answer.status_code == 200
    assert answer.json()["id"] == foreign
    assert client.get("/messages/not-a-uuid").status_code == 404
