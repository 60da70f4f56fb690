"""The hub: fan-out without waiting, slow clients dropped, recent events and totals kept."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from producer.routes import feed as feed_route
from producer.tracking.feed import FeedFullError, FeedHub, Subscriber
from shared.messages.status_events import Stage
from tests.producer.events import event


def frames(subscriber: Subscriber) -> list[Any]:
    """Everything queued for `subscriber` (None marks its end), without waiting."""
    out: list[Any] = []
    while not subscriber._frames.empty():
        text = subscriber._frames.get_nowait()
        out.append(None if text is None else json.loads(text))
    return out


def test_an_event_reaches_every_client_as_one_json_frame() -> None:
    hub = FeedHub()
    first, second = hub.subscribe(), hub.subscribe()
    done = event(Stage.DONE, latency_ms=12.5)
    hub.publish_event(done)
    [frame] = frames(first)
    assert frame == {"kind": "event", **done.model_dump(mode="json")}
    assert frames(second) == [frame]


def test_a_slow_client_is_dropped_and_the_others_miss_nothing() -> None:
    hub = FeedHub(client_buffer=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    received: list[Any] = []
    started = time.monotonic()
    for n in range(10):
        hub.publish_event(event(Stage.ACCEPTED, n))
        received.extend(frames(fast))  # this one keeps up
    assert time.monotonic() - started < 1.0
    assert len(received) == 10
    assert hub.dropped_clients == 1
    assert hub.clients == 1
    assert slow.closed == "slow"
    assert frames(slow) == [None]  # its backlog is discarded: it starts over on reconnect


def test_a_dropped_client_learns_it_at_once() -> None:
    async def main() -> str | None:
        hub = FeedHub(client_buffer=1)
        slow = hub.subscribe()
        hub.publish_event(event(Stage.ACCEPTED))
        hub.publish_event(event(Stage.ACCEPTED))
        return await asyncio.wait_for(slow.next(), 1)

    assert asyncio.run(main()) is None


def test_a_new_client_gets_the_recent_events_oldest_first() -> None:
    hub = FeedHub(recent=3)
    published = [event(Stage.ACCEPTED, n) for n in range(5)]
    for item in published:
        hub.publish_event(item)
    hello = hub.hello()
    assert hello["kind"] == "hello"
    assert [frame["id"] for frame in hello["recent"]] == [str(e.id) for e in published[2:]]


def test_totals_count_every_stage_and_start_at_zero() -> None:
    hub = FeedHub()
    assert hub.totals() == {stage.value: 0 for stage in Stage}
    for stage in (Stage.ACCEPTED, Stage.ACCEPTED, Stage.DONE, Stage.FAILED, Stage.DEAD):
        hub.publish_event(event(stage))
    assert hub.totals() == {
        "accepted": 2,
        "received": 0,
        "processing": 0,
        "done": 1,
        "failed": 1,
        "dead": 1,
    }
    assert set(hub.rates()) == {stage.value for stage in Stage}
    assert hub.rates()["accepted"] > 0


def test_stats_frames_carry_the_totals_and_are_kept_for_new_clients() -> None:
    hub = FeedHub()
    client = hub.subscribe()
    hub.publish_event(event(Stage.DONE))
    hub.publish_stats({"queue": {"name": "messages", "visible": 4, "in_flight": 1}})
    [_, stats] = frames(client)
    assert stats["kind"] == "stats"
    assert stats["queue"]["visible"] == 4
    assert stats["totals"]["done"] == 1
    assert stats["clients"] == 1
    assert hub.hello()["stats"] == stats


def test_nothing_is_encoded_while_nobody_listens() -> None:
    hub = FeedHub()
    hub.broadcast({"kind": "stats", "not-json": object()})  # would fail to encode


def test_closing_the_hub_ends_every_client() -> None:
    hub = FeedHub()
    clients = [hub.subscribe() for _ in range(3)]
    hub.publish_event(event(Stage.DONE))
    hub.close()
    assert hub.clients == 0
    for client in clients:
        assert client.closed == "shutdown"
        assert frames(client) == [None]
    assert hub.dropped_clients == 0


def test_clients_are_capped_per_caller_and_per_process_and_freed_on_leaving() -> None:
    async def run() -> None:
        hub = FeedHub(max_clients=3, max_clients_per_caller=2, client_buffer=1)
        first = hub.subscribe("key:a")
        hub.subscribe("key:a")
        with pytest.raises(FeedFullError) as per_caller:
            hub.subscribe("key:a")
        assert (per_caller.value.scope, per_caller.value.limit) == ("caller", 2)
        slow = hub.subscribe("key:b")
        with pytest.raises(FeedFullError) as per_process:
            hub.subscribe("key:c")
        assert (per_process.value.scope, per_process.value.limit) == ("process", 3)
        hub.unsubscribe(first)
        hub.unsubscribe(first)  # twice: counted once
        hub.subscribe("key:a")
        hub.broadcast({"kind": "stats"})
        hub.broadcast({"kind": "stats"})  # every client's buffer of one overflows: dropped
        assert hub.clients == 0
        assert slow.closed == "slow"
        hub.subscribe("key:b")
        hub.subscribe("key:b")
        hub.close()
        assert hub.clients == 0
        hub.subscribe("key:b")  # nothing of a dropped or closed client is still counted

    asyncio.run(run())


class _LeavingClient:
    """A client that leaves at once; the send to it fails a moment later, as the server
    is already stopping it."""

    async def receive(self) -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send_text(self, text: str) -> None:
        await asyncio.sleep(0)
        raise WebSocketDisconnect(1006)


def test_a_send_failing_as_its_client_leaves_is_not_logged_as_an_unretrieved_error() -> None:
    unhandled: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: unhandled.append(context)
        )
        subscriber = Subscriber(buffer=4, caller="test")
        subscriber.offer('{"kind": "stats"}')
        await asyncio.wait_for(feed_route._serve(_LeavingClient(), subscriber), 5)  # type: ignore[arg-type]
        for _ in range(3):  # the cancelled tasks end, and their callbacks run
            await asyncio.sleep(0)
        gc.collect()

    asyncio.run(main())
    assert unhandled == []
