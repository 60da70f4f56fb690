"""The /feed WebSocket through FastAPI's TestClient: hello, events, queue figures, drops."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from producer.main import create_app
from producer.tracking.tracker import Tracking
from shared.aws import SqsQueue
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


def test_consumer_events_reach_the_page_through_the_events_queue(
    app_client: TestClient, settings: Settings
) -> None:
    message = str(uuid4())
    name = settings.sqs.events_queue_name
    assert name
    events = SqsQueue.from_settings(settings, queue_name=name)
    body = EVENT_LIST.dump_json(
        [event(Stage.RECEIVED, 1, id=message), event(Stage.DONE, 2, id=message, latency_ms=9.0)]
    ).decode()
    with app_client.websocket_connect("/feed") as ws:
        receive(ws)
        events.client.send_message(QueueUrl=events.url, MessageBody=body)
        done = frame_where(ws, lambda f: f["kind"] == "event" and f["stage"] == "done")
    assert done["id"] == str(message)
    assert done["latency_ms"] == 9.0
    assert app_client.get(f"/messages/{message}").json()["stage"] == "done"


def test_stats_frames_report_the_queue_depths_and_totals(app_client: TestClient) -> None:
    assert app_client.post("/messages", json=ORDER).status_code == 202  # nobody consumes it
    with app_client.websocket_connect("/feed") as ws:
        stats = frame_where(ws, lambda f: f["kind"] == "stats")
    assert stats["queue"] == {"name": "messages", "visible": 1, "in_flight": 0}
    assert stats["dlq"] == {"name": "messages-dlq", "visible": 0, "in_flight": 0}
    assert stats["error"] is None
    assert stats["totals"]["accepted"] == 1
    assert stats["clients"] == 1
    assert stats["events_reader"]["malformed"] == 0


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
