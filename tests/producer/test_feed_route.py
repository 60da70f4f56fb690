"""The /feed WebSocket through FastAPI's TestClient: hello, events, queue figures, drops."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from producer.main import create_app
from producer.tracking.tracker import Tracking
from shared.aws import OutgoingMessage, SqsQueue
from shared.aws.sns import SnsTopic
from shared.messages.status_events import EVENT_LIST, Stage
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from tests.producer.events import event

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}
Frame = dict[str, Any]


def tracked_settings(settings: Settings, **producer: Any) -> Settings:
    values = {"stats_interval_seconds": 0.1, **producer}
    return settings.model_copy(update={"producer": settings.producer.model_copy(update=values)})


@pytest.fixture
def app_client(settings: Settings, mocked_aws: None) -> Iterator[TestClient]:
    ensure_resources(settings)
    with TestClient(create_app(tracked_settings(settings))) as client:
        yield client


def tracking(client: TestClient) -> Tracking:
    found: Tracking = client.app.state.tracking  # type: ignore[attr-defined]
    return found


def in_app_loop(client: TestClient, call: Callable[[], None]) -> None:
    """Run `call` in the app's event loop, where the hub lives."""
    assert client.portal is not None
    client.portal.call(call)


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> Frame:
    """The next frame, or a failure after `timeout` seconds."""
    pool = ThreadPoolExecutor(1)
    try:
        frame: Frame = pool.submit(ws.receive_json).result(timeout)
        return frame
    finally:
        pool.shutdown(wait=False)


def frame_where(
    ws: WebSocketTestSession, match: Callable[[Frame], bool], timeout: float = 5.0
) -> Frame:
    """Read frames until one matches; at most 500 frames and `timeout` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(500):
        frame = receive(ws, max(0.1, deadline - time.monotonic()))
        if match(frame):
            return frame
        assert time.monotonic() < deadline, f"no matching frame in {timeout}s; last {frame}"
    raise AssertionError("no matching frame in 500 frames")


def test_a_page_gets_hello_then_the_messages_it_sends(app_client: TestClient) -> None:
    with app_client.websocket_connect("/feed") as ws:
        hello = receive(ws)
        assert hello["kind"] == "hello"
        assert hello["recent"] == []
        assert hello["totals"] == {stage.value: 0 for stage in Stage}
        answer = app_client.post("/messages", json=ORDER)
        assert answer.status_code == 202
        frame = frame_where(ws, lambda f: f["kind"] == "event")
    assert frame["id"] == answer.json()["id"]
    assert frame["stage"] == "accepted"
    assert frame["type"] == "order.created"
    assert frame["queue"] == "messages"


def test_hello_carries_what_happened_before_the_page_opened(app_client: TestClient) -> None:
    ids = [app_client.post("/messages", json=ORDER).json()["id"] for _ in range(2)]
    with app_client.websocket_connect("/feed") as ws:
        hello = receive(ws)
    assert [frame["id"] for frame in hello["recent"]] == ids
    assert hello["totals"]["accepted"] == 2


def test_batch_messages_are_accepted_events_too(app_client: TestClient) -> None:
    answer = app_client.post("/messages/batch", json={"messages": [ORDER, ORDER]})
    assert answer.status_code == 202
    with app_client.websocket_connect("/feed") as ws:
        hello = receive(ws)
    assert {frame["id"] for frame in hello["recent"]} == {
        item["id"] for item in answer.json()["results"]
    }


def feed_ready(client: TestClient, timeout: float = 10.0) -> None:
    """Wait until this replica's feed queue is subscribed to the events topic."""
    feed_queue = tracking(client).feed_queue
    assert feed_queue is not None
    deadline = time.monotonic() + timeout
    while feed_queue.subscription is None:
        assert time.monotonic() < deadline, "the feed queue was not subscribed"
        time.sleep(0.02)


def test_consumer_events_reach_the_page_through_the_events_topic(
    app_client: TestClient, settings: Settings
) -> None:
    message = str(uuid4())
    body = EVENT_LIST.dump_json(
        [event(Stage.RECEIVED, 1, id=message), event(Stage.DONE, 2, id=message, latency_ms=9.0)]
    ).decode()
    feed_ready(app_client)
    with app_client.websocket_connect("/feed") as ws:
        receive(ws)
        SnsTopic.from_settings(settings, "messages-events").send_batch([OutgoingMessage("0", body)])
        done = frame_where(ws, lambda f: f["kind"] == "event" and f["stage"] == "done")
    assert done["id"] == str(message)
    assert done["latency_ms"] == 9.0
    assert app_client.get(f"/messages/{message}").json()["stage"] == "done"


def test_consumer_events_reach_the_page_through_the_events_queue_without_a_topic(
    settings: Settings, mocked_aws: None
) -> None:
    settings = settings.model_copy(
        update={"sqs": settings.sqs.model_copy(update={"events_topic_name": None})}
    )
    ensure_resources(settings)
    message = str(uuid4())
    name = settings.sqs.events_queue_name
    assert name
    events = SqsQueue.from_settings(settings, queue_name=name)
    body = EVENT_LIST.dump_json([event(Stage.DONE, 2, id=message, latency_ms=9.0)]).decode()
    with TestClient(create_app(tracked_settings(settings))) as client:
        assert tracking(client).feed_queue is None
        with client.websocket_connect("/feed") as ws:
            receive(ws)
            events.client.send_message(QueueUrl=events.url, MessageBody=body)
            done = frame_where(ws, lambda f: f["kind"] == "event" and f["stage"] == "done")
        assert done["id"] == str(message)
        assert client.get(f"/messages/{message}").json()["stage"] == "done"


def test_stats_frames_report_the_queue_depths_and_totals(app_client: TestClient) -> None:
    assert app_client.post("/messages", json=ORDER).status_code == 202  # nobody consumes it
    with app_client.websocket_connect("/feed") as ws:
        stats = frame_where(ws, lambda f: f["kind"] == "stats")
    assert stats["queue"] == {
        "name": "messages",
        "visible": 1,
        "in_flight": 0,
        "oldest_age_seconds": None,  # CloudWatch has no datapoint for it
    }
    assert stats["dlq"] == {
        "name": "messages-dlq",
        "visible": 0,
        "in_flight": 0,
        "oldest_age_seconds": None,
    }
    assert stats["queues"] == [{"name": "messages", "queue": stats["queue"], "dlq": stats["dlq"]}]
    assert stats["error"] is None
    assert stats["totals"]["accepted"] == 1
    assert stats["clients"] == 1
    assert stats["events_reader"] is None  # status is in memory: no table to write
    assert stats["feed_reader"]["malformed"] == 0


def test_stats_frames_show_every_declared_queue_with_its_dead_letters(
    settings: Settings, mocked_aws: None, tmp_path: Path
) -> None:
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(
        '[topics.orders]\nsubscriptions = [{ queue = "billing" }, { queue = "audit" }]\n'
    )
    settings = settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"file": topics_file}),
            "consumer": settings.consumer.model_copy(update={"queues": ["messages", "billing"]}),
        }
    )
    ensure_resources(settings)
    with TestClient(create_app(tracked_settings(settings))) as client:
        assert client.post("/topics/orders/messages", json=ORDER).status_code == 202
        with client.websocket_connect("/feed") as ws:
            stats = frame_where(ws, lambda f: f["kind"] == "stats")
    rows = {row["name"]: row for row in stats["queues"]}
    assert list(rows) == ["messages", "billing", "audit"]  # main, consumer's, topics'; once each
    assert {name: row["dlq"]["name"] for name, row in rows.items()} == {
        "messages": "messages-dlq",
        "billing": "billing-dlq",
        "audit": "audit-dlq",
    }
    assert [rows[name]["queue"]["visible"] for name in rows] == [0, 1, 1]
    assert stats["error"] is None


def first_stats(settings: Settings) -> Frame:
    """The first stats frame of an app built from `settings`."""
    with (
        TestClient(create_app(tracked_settings(settings))) as client,
        client.websocket_connect("/feed") as ws,
    ):
        return frame_where(ws, lambda f: f["kind"] == "stats")


def test_the_oldest_message_age_comes_from_cloudwatch(settings: Settings, mocked_aws: None) -> None:
    ensure_resources(settings)
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": "messages-dlq"}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=2),
                "Value": 86_400.0,
            }
        ],
    )
    stats = first_stats(settings)
    assert stats["dlq"]["oldest_age_seconds"] == 86_400.0
    assert stats["queue"]["oldest_age_seconds"] is None


def test_a_queue_that_cannot_be_read_is_null_and_named_in_the_error(
    settings: Settings, mocked_aws: None
) -> None:
    settings = settings.model_copy(
        update={"consumer": settings.consumer.model_copy(update={"queues": ["never-made"]})}
    )
    ensure_resources(settings)  # makes no queue for CONSUMER_QUEUES: it only consumes them
    stats = first_stats(settings)
    missing = stats["queues"][1]
    assert (missing["name"], missing["queue"], missing["dlq"]) == ("never-made", None, None)
    assert stats["queues"][0]["queue"]["name"] == "messages"
    assert "never-made" in stats["error"]


def test_queue_depths_are_not_read_while_no_page_is_open(app_client: TestClient) -> None:
    stats = tracking(app_client).stats
    assert stats is not None
    time.sleep(0.5)  # five periods
    assert stats.reads == 0
    with app_client.websocket_connect("/feed") as ws:
        frame_where(ws, lambda f: f["kind"] == "stats")
        frame_where(ws, lambda f: f["kind"] == "stats")
    assert stats.reads >= 2


def test_a_page_that_falls_behind_is_closed_with_try_again_later(
    settings: Settings, mocked_aws: None
) -> None:
    ensure_resources(settings)
    app = create_app(tracked_settings(settings, feed_client_buffer=2))
    with TestClient(app) as client:
        hub = tracking(client).hub

        def burst() -> None:  # all at once: the page gets no chance to read in between
            for n in range(5):
                hub.publish_event(event(Stage.ACCEPTED, n))

        with client.websocket_connect("/feed") as slow:
            receive(slow)
            in_app_loop(client, burst)
            with pytest.raises(WebSocketDisconnect) as closed:
                frame_where(slow, lambda f: False)
        assert closed.value.code == 1013
        assert hub.dropped_clients == 1
        with client.websocket_connect("/feed") as again:  # the page's reconnect works
            assert len(receive(again)["recent"]) == 5


def test_unsigned_events_are_warned_about_once_with_a_table_and_a_topic(
    settings: Settings, mocked_aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = tracked_settings(settings, status_store="dynamodb")
    assert settings.sqs.events_secret is None
    assert settings.sqs.events_topic
    ensure_resources(settings)
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)):
        pass
    warnings = [r.getMessage() for r in caplog.records if "unsigned" in r.getMessage()]
    assert len(warnings) == 1, warnings  # two readers, one warning
    assert settings.sqs.events_topic in warnings[0]
