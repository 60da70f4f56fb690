"""The events reader against moto: packed bodies reach the store and the feed, bad ones go."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.status_publisher import EventPublisher
from consumer.worker import Worker
from producer.tracking.events_reader import EventsReader
from producer.tracking.feed import FeedHub
from producer.tracking.store import StatusStore
from producer.tracking.tracker import Tracker
from shared.aws import SqsQueue
from shared.aws.backoff import error_backoff
from shared.messages.envelope import Envelope
from shared.messages.event_bodies import MAX_INFLATED_BYTES, deflated
from shared.messages.event_signing import SIGNATURE_ATTRIBUTE, sign
from shared.messages.status_events import EVENT_LIST, Stage, StatusEvent
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from tests.producer.events import event
from tests.support import enqueue


@pytest.fixture
def events_queue(settings: Settings, mocked_aws: None) -> SqsQueue:
    ensure_resources(settings)
    name = settings.sqs.events_queue_name
    assert name
    return SqsQueue.from_settings(settings, queue_name=name)


@pytest.fixture
def tracker() -> Tracker:
    return Tracker(StatusStore(100), FeedHub())


def send_body(queue: SqsQueue, body: str, signature: str | None = None) -> None:
    attributes: dict[str, Any] = {}
    if signature is not None:
        attributes[SIGNATURE_ATTRIBUTE] = {"DataType": "String", "StringValue": signature}
    queue.client.send_message(QueueUrl=queue.url, MessageBody=body, MessageAttributes=attributes)


def pack(events: list[StatusEvent]) -> str:
    """A plain body, as older consumers sent and anyone may write."""
    return EVENT_LIST.dump_json(events).decode()


def pack_deflated(events: list[StatusEvent]) -> str:
    """A body as consumers send it now."""
    return deflated(EVENT_LIST.dump_json(events))


def left_in(queue: SqsQueue) -> int:
    values = queue.attributes(
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
    )
    return sum(int(value) for value in values.values())


def test_packed_bodies_reach_the_store_and_the_feed_and_are_deleted(
    events_queue: SqsQueue, tracker: Tracker
) -> None:
    first, second = str(uuid4()), str(uuid4())
    send_body(
        events_queue,
        pack([event(Stage.RECEIVED, 1, id=first), event(Stage.PROCESSING, 1.1, id=first)]),
    )
    send_body(
        events_queue,
        pack_deflated(
            [
                event(Stage.DONE, 2, id=first, latency_ms=2000.0),
                event(Stage.RECEIVED, 2, id=second),
                event(Stage.FAILED, 3, id=second, error="boom"),
            ]
        ),
    )
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0)
    received = asyncio.run(reader.poll_once())

    assert received == 2
    assert (reader.counts.bodies, reader.counts.events, reader.counts.malformed) == (2, 5, 0)
    done, failed = tracker.store.get(first), tracker.store.get(second)
    assert done is not None
    assert failed is not None
    assert (done.stage, done.latency_ms) == (Stage.DONE, 2000.0)
    assert (failed.stage, failed.error) == (Stage.FAILED, "boom")
    assert tracker.hub.totals()["done"] == 1
    assert tracker.hub.totals()["received"] == 2
    assert left_in(events_queue) == 0


def test_a_malformed_body_is_counted_logged_and_deleted(
    events_queue: SqsQueue, tracker: Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    good = event(Stage.DONE)
    send_body(events_queue, "{not json")
    send_body(events_queue, '[{"id": "not-a-uuid", "stage": "done"}]')
    send_body(events_queue, deflated(b"[" + b" " * (MAX_INFLATED_BYTES + 1) + b"]"))  # a bomb
    send_body(events_queue, pack_deflated([good])[:-10])  # cut short
    send_body(events_queue, pack([good]))
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0)
    with caplog.at_level(logging.WARNING, logger="producer.tracking.events_reader"):
        assert asyncio.run(reader.poll_once()) == 5

    assert reader.counts.malformed == 4
    assert f"inflates past {MAX_INFLATED_BYTES} bytes" in caplog.text
    assert tracker.store.get(good.id) is not None
    assert "{not json" in caplog.text
    assert left_in(events_queue) == 0


def test_a_repeated_body_is_not_counted_twice(events_queue: SqsQueue, tracker: Tracker) -> None:
    body = pack([event(Stage.DONE)])
    send_body(events_queue, body)
    send_body(events_queue, body)  # the events queue delivers at least once too
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0)
    asyncio.run(reader.poll_once())
    assert tracker.hub.totals()["done"] == 1


SECRET = SecretStr("test-events-secret")


def forged_total() -> float:
    labels = {"reason": "forged"}
    return REGISTRY.get_sample_value("producer_status_bodies_dropped_total", labels) or 0.0


def test_a_signed_body_is_read_when_a_secret_is_set(
    events_queue: SqsQueue, tracker: Tracker
) -> None:
    signed = event(Stage.DONE)
    body = pack([signed])
    send_body(events_queue, body, sign(body, SECRET))
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0, secret=SECRET)
    assert asyncio.run(reader.poll_once()) == 1
    assert (reader.counts.events, reader.counts.forged) == (1, 0)
    assert tracker.store.get(signed.id) is not None


def test_unsigned_wrongly_signed_and_tampered_bodies_are_dropped_counted_and_deleted(
    events_queue: SqsQueue, tracker: Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    unsigned, wrong_key, tampered, good = (event(Stage.DONE) for _ in range(4))
    send_body(events_queue, pack([unsigned]))
    wrong = pack([wrong_key])
    send_body(events_queue, wrong, sign(wrong, SecretStr("someone-elses-secret")))
    original = pack([tampered])
    forged = original.replace('"stage":"done"', '"stage":"dead"')
    assert forged != original
    send_body(events_queue, forged, sign(original, SECRET))
    send_body(events_queue, pack([good]), sign(pack([good]), SECRET))
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0, secret=SECRET)
    before = forged_total()
    with caplog.at_level(logging.WARNING, logger="producer.tracking.events_reader"):
        received = 0
        for _ in range(5):  # moto may hand the four over in more than one receive
            received += asyncio.run(reader.poll_once())
            if received == 4:
                break

    assert received == 4
    assert (reader.counts.bodies, reader.counts.forged, reader.counts.malformed) == (4, 3, 0)
    assert forged_total() - before == 3
    assert len(tracker.store) == 1
    assert tracker.store.get(good.id) is not None
    for dropped in (unsigned, wrong_key, tampered):
        assert tracker.store.get(dropped.id) is None
        assert str(dropped.id) not in caplog.text  # the content is not logged
    warnings = [r for r in caplog.records if "signature" in r.getMessage()]
    assert len(warnings) == 3
    assert left_in(events_queue) == 0


def test_without_a_secret_every_body_is_read(events_queue: SqsQueue, tracker: Tracker) -> None:
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0)
    plain, signed = event(Stage.DONE), event(Stage.DONE)
    send_body(events_queue, pack([plain]))
    send_body(events_queue, pack([signed]), sign(pack([signed]), SECRET))
    for _ in range(5):
        asyncio.run(reader.poll_once())
        if tracker.store.get(plain.id) and tracker.store.get(signed.id):
            break
    assert tracker.store.get(plain.id) is not None
    assert tracker.store.get(signed.id) is not None
    assert reader.counts.forged == 0


def test_a_workers_signed_events_reach_the_store_and_a_forged_body_does_not(
    settings: Settings, events_queue: SqsQueue, tracker: Tracker
) -> None:
    settings.sqs.events_secret = SECRET
    queue = SqsQueue.from_settings(settings)
    publisher = EventPublisher(events_queue, Metrics(), secret=settings.sqs.events_secret)
    registry = HandlerRegistry()
    registry.register("job", lambda payload: None)
    worker = Worker(queue, registry, settings, Metrics(), events=publisher)
    sent = Envelope(type="job", payload={})
    enqueue(queue, sent)
    worker.run(until_empty=True)
    publisher.flush()
    # What someone else who may send to the events queue would write: the job never ran.
    send_body(events_queue, pack([event(Stage.DEAD, id=sent.id, error="forged")]))
    reader = EventsReader(events_queue, tracker.record, wait_seconds=0, secret=SECRET)
    for _ in range(5):
        asyncio.run(reader.poll_once())
        if reader.counts.bodies == 2:
            break

    assert (reader.counts.bodies, reader.counts.forged) == (2, 1)
    status = tracker.store.get(sent.id)
    assert status is not None
    assert [h.stage for h in status.history] == [Stage.RECEIVED, Stage.PROCESSING, Stage.DONE]
    assert left_in(events_queue) == 0


def test_the_loop_survives_sqs_errors_and_stops_when_asked(
    settings: Settings, mocked_aws: None, tracker: Tracker
) -> None:
    missing = SqsQueue.from_settings(settings, queue_name="no-such-queue")
    reader = EventsReader(missing, tracker.record, wait_seconds=0, backoff_max_seconds=0.02)

    async def main() -> None:
        task = asyncio.create_task(reader.run())
        for _ in range(200):
            if reader.counts.errors >= 3:
                break
            await asyncio.sleep(0.02)
        assert not task.done()
        reader.stop()
        await asyncio.wait_for(task, 2)

    asyncio.run(main())
    assert reader.counts.errors >= 3


def test_the_loop_hands_over_what_arrives_while_it_runs(
    events_queue: SqsQueue, tracker: Tracker
) -> None:
    reader = EventsReader(events_queue, tracker.record, wait_seconds=1)
    done = event(Stage.DONE)

    async def main() -> None:
        task = asyncio.create_task(reader.run())
        await asyncio.to_thread(send_body, events_queue, pack([done]))
        for _ in range(100):
            if tracker.store.get(done.id):
                break
            await asyncio.sleep(0.05)
        reader.stop()
        await asyncio.wait_for(task, 3)  # at most one poll of 1 s left to finish

    asyncio.run(main())
    assert tracker.store.get(done.id) is not None


def test_bodies_trickling_in_are_gathered_into_one_receive_a_pace(
    events_queue: SqsQueue, tracker: Tracker
) -> None:
    """A consumer publishing often costs the reader one receive and one delete a pace, not
    one of each per body; a full receive (a backlog) is followed at once."""
    reader = EventsReader(events_queue, tracker.record, wait_seconds=1, pace_seconds=0.5)
    trickled = [event(Stage.DONE) for _ in range(12)]

    async def main() -> None:
        task = asyncio.create_task(reader.run())
        for one in trickled:  # a body every 50 ms for 0.6 s
            await asyncio.to_thread(send_body, events_queue, pack([one]))
            await asyncio.sleep(0.05)
        for _ in range(100):
            if all(tracker.store.get(one.id) for one in trickled):
                break
            await asyncio.sleep(0.05)
        reader.stop()
        await asyncio.wait_for(task, 3)

    asyncio.run(main())
    assert all(tracker.store.get(one.id) for one in trickled)
    assert reader.counts.bodies == 12
    assert reader.counts.receives <= 4, f"{reader.counts.receives} receives for 12 bodies"


@pytest.mark.parametrize("failures", [1, 2, 5, 30])
def test_backoff_doubles_up_to_the_cap_with_jitter(failures: int) -> None:
    rng = random.Random(failures)
    ceiling = min(4.0, 0.5 * 2 ** (failures - 1))
    delays = {error_backoff(failures, 4.0, rng) for _ in range(20)}
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(delays) > 1  # jittered, so readers restarted together spread out
