"""Message status in DynamoDB (moto): shared by apps, forward-only, causal, best-effort."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typing_extensions import override

from producer.main import create_app
from producer.tracking import status_writer
from producer.tracking.status_table import BATCH_ITEMS, StatusTable
from producer.tracking.status_writer import StatusWriter
from producer.tracking.store import status_of
from shared.aws import build_client
from shared.messages.status_events import Stage, StatusEvent
from shared.settings import Settings
from shared.topology.queues import QueuePair
from shared.topology.resources import ensure_resources
from tests.producer.events import event

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}


def shared_settings(settings: Settings, **producer: Any) -> Settings:
    values = {"status_store": "dynamodb", "status_table": "status", **producer}
    return settings.model_copy(update={"producer": settings.producer.model_copy(update=values)})


@pytest.fixture
def table(settings: Settings, queues: QueuePair) -> StatusTable:
    shared = shared_settings(settings)
    ensure_resources(shared)
    return StatusTable(build_client("dynamodb", shared), "status", ttl_seconds=3600)


def test_events_of_many_messages_are_written_in_batches_and_read_per_message(
    table: StatusTable,
) -> None:
    events: list[StatusEvent] = []
    for n in range(20):
        message = f"m-{n}"
        events += [
            event(Stage.ACCEPTED, 0, id=message),
            event(Stage.RECEIVED, 1, id=message, attempt=1),
            event(Stage.DONE, 2, id=message, attempt=1),
        ]
    table.write(events + events[:5])  # 65 events, 5 of them twice: 3 requests
    assert len(events) > 2 * BATCH_ITEMS
    read = table.read("m-7")
    assert sorted(e.stage for e in read) == sorted([Stage.ACCEPTED, Stage.RECEIVED, Stage.DONE])
    status = status_of(read)
    assert status is not None
    assert status.stage is Stage.DONE
    assert table.read("never-sent") == []


def test_a_late_written_event_never_moves_the_stage_back(table: StatusTable) -> None:
    table.write([event(Stage.DONE, 5, id="late", attempt=1)])
    table.write([event(Stage.PROCESSING, 3, id="late", attempt=1)])
    table.write([event(Stage.ACCEPTED, 0, id="late")])
    status = status_of(table.read("late"))
    assert status is not None
    assert status.stage is Stage.DONE
    assert [entry.stage for entry in status.history] == [
        Stage.ACCEPTED,
        Stage.PROCESSING,
        Stage.DONE,
    ]


def test_history_is_causal_even_when_the_consumers_clock_is_behind() -> None:
    # The consumer's clock runs 2 s behind the producer's: its stamps come before `accepted`.
    events = [
        event(Stage.DONE, -1.0, id="skew", attempt=2),
        event(Stage.FAILED, -1.6, id="skew", attempt=1, error="boom"),
        event(Stage.RECEIVED, -1.9, id="skew", attempt=1),
        event(Stage.ACCEPTED, 0.0, id="skew"),
        event(Stage.RECEIVED, -1.2, id="skew", attempt=2),
    ]
    status = status_of(events)
    assert status is not None
    assert [(e.stage, e.attempt) for e in status.history] == [
        (Stage.ACCEPTED, 0),
        (Stage.RECEIVED, 1),
        (Stage.FAILED, 1),
        (Stage.RECEIVED, 2),
        (Stage.DONE, 2),
    ]
    assert status.first_seen == events[3].at  # when it was accepted, not the skewed clock
    assert all(entry.queue for entry in status.history)


@pytest.fixture
def replicas(settings: Settings, queues: QueuePair) -> Iterator[tuple[TestClient, TestClient]]:
    shared = shared_settings(settings)
    ensure_resources(shared)
    with TestClient(create_app(shared)) as first, TestClient(create_app(shared)) as second:
        yield first, second


def flush(client: TestClient) -> None:
    """Write what the app's writer holds now, instead of waiting for its next flush."""
    writer = client.app.state.tracking.tracker.writer  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(writer.flush)


def test_every_replica_answers_for_a_message_another_accepted(
    replicas: tuple[TestClient, TestClient],
) -> None:
    first, second = replicas
    accepted = first.post("/messages", json=ORDER)
    assert accepted.status_code == 202
    message_id = accepted.json()["id"]
    assert first.get(f"/messages/{message_id}").json()["stage"] == "accepted"  # not yet written
    flush(first)
    answer = second.get(f"/messages/{message_id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["stage"] == "accepted"
    assert answer.json()["history"][0]["queue"] == "messages"
    missing = second.get("/messages/never-sent")
    assert missing.status_code == 404
    assert "no producer has recorded it" in missing.json()["detail"]


def test_without_the_table_posts_still_flow_and_get_says_status_is_unavailable(
    settings: Settings, queues: QueuePair
) -> None:
    shared = shared_settings(settings, status_table="never-made")  # no table behind it
    with TestClient(create_app(shared)) as client:
        accepted = client.post("/messages", json=ORDER)
        assert accepted.status_code == 202
        flush(client)  # fails: counted, not raised
        answer = client.get(f"/messages/{accepted.json()['id']}")
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("status unavailable")
    assert answer.headers["Retry-After"] == "2"


def test_a_failed_write_is_tried_once_more_then_dropped_and_counted(table: StatusTable) -> None:
    class Flaky(StatusTable):
        failures = 2

        @override
        def write(self, events: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("DynamoDB down")
            super().write(events)

    flaky = Flaky(table.client, table.table, 3600)
    dropped = status_writer.DROPPED.labels("failed")._value.get()

    async def run() -> None:
        writer = StatusWriter(flaky)
        writer.add([event(Stage.ACCEPTED, id="first")])
        await writer.flush()  # fails: "first" is kept for one more try
        writer.add([event(Stage.ACCEPTED, id="second")])
        await writer.flush()  # the retry of "first" fails too: dropped; "second" is written
        await writer.close()

    asyncio.run(run())
    assert status_writer.DROPPED.labels("failed")._value.get() - dropped == 1
    assert flaky.read("first") == []
    assert [e.id for e in flaky.read("second")] == ["second"]


def test_a_topics_message_has_one_status_per_subscribed_queue() -> None:
    events = [
        event(Stage.ACCEPTED, 0, id="fan", queue="orders", topic="orders"),
        event(Stage.RECEIVED, 1, id="fan", attempt=1, queue="billing"),
        event(Stage.DONE, 2, id="fan", attempt=1, queue="billing", latency_ms=20.0),
        event(Stage.RECEIVED, 1, id="fan", attempt=1, queue="audit"),
        event(Stage.FAILED, 2, id="fan", attempt=1, queue="audit", error="audit down"),
        event(Stage.RECEIVED, 3, id="fan", attempt=2, queue="audit"),
    ]
    status = status_of(events)
    assert status is not None
    progress = {queue: (p.stage, p.attempts, p.error) for queue, p in status.queues.items()}
    assert progress == {
        "audit": (Stage.RECEIVED, 2, None),  # retried after its failure
        "billing": (Stage.DONE, 1, None),
    }
    assert status.queues["billing"].latency_ms == 20.0
    assert {entry.queue for entry in status.history} == {"orders", "billing", "audit"}
