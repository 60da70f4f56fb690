"""Status events: recorded per stage by the worker, sent packed, never in a handler's way."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import boto3
import pytest
from pydantic import SecretStr

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry, PermanentError
from consumer.status_publisher import SEND_ATTEMPTS, EventPublisher
from consumer.worker import Worker
from shared.aws import SqsQueue
from shared.aws.sns import SnsTopic
from shared.messages import event_bodies
from shared.messages.event_bodies import MAX_BODY_BYTES, pack, read
from shared.messages.event_signing import SIGNATURE_ATTRIBUTE, sign
from shared.messages.status_events import EVENT_LIST, MAX_ERROR_LENGTH, Stage, StatusEvent
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from tests.consumer.conftest import counter, send


class ListSink:
    def __init__(self) -> None:
        self.events: list[StatusEvent] = []

    def publish(self, event: StatusEvent) -> None:
        self.events.append(event)


def stages(sink: ListSink, envelope_id: object) -> list[Stage]:
    return [e.stage for e in sink.events if e.id == envelope_id]


def test_a_good_message_goes_received_processing_done_and_a_poisoned_one_dead(
    queue: SqsQueue, registry: HandlerRegistry, settings: Settings
) -> None:
    sink = ListSink()
    worker = Worker(queue, registry, settings, Metrics(), events=sink)

    def job(payload: dict[str, Any]) -> None:
        if payload.get("poison"):
            raise PermanentError("cannot ever work")

    registry.register("job", job)
    good = send(queue, n=1)
    bad = send(queue, n=2, poison=True)
    worker.run(until_empty=True)
    assert stages(sink, good.id) == [Stage.RECEIVED, Stage.PROCESSING, Stage.DONE]
    assert stages(sink, bad.id) == [Stage.RECEIVED, Stage.PROCESSING, Stage.DEAD]
    done = next(e for e in sink.events if e.id == good.id and e.stage is Stage.DONE)
    dead = next(e for e in sink.events if e.id == bad.id and e.stage is Stage.DEAD)
    assert (done.type, done.queue, done.attempt) == ("job", queue.name, 1)
    assert done.latency_ms is not None
    assert done.latency_ms >= 0
    assert dead.error is not None
    assert "permanent_error" in dead.error
    assert "cannot ever work" in dead.error


def test_a_failure_is_reported_with_its_error_and_attempt(
    queue: SqsQueue, registry: HandlerRegistry, settings: Settings
) -> None:
    sink = ListSink()
    settings.consumer.retry_base_seconds = 0
    worker = Worker(queue, registry, settings, Metrics(), events=sink)
    calls: list[int] = []

    def flaky(payload: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")

    registry.register("job", flaky)
    envelope = send(queue, n=1)
    for _ in range(20):
        worker.run(max_batches=1)
        if Stage.DONE in stages(sink, envelope.id):
            break
    failed = [e for e in sink.events if e.stage is Stage.FAILED]
    assert [e.attempt for e in failed] == [1]
    assert failed[0].error == "RuntimeError: transient"
    assert stages(sink, envelope.id)[-1] is Stage.DONE
    assert [e.attempt for e in sink.events if e.stage is Stage.DONE] == [2]


def test_an_error_echoing_its_payload_is_cut_to_a_bounded_length(
    queue: SqsQueue, registry: HandlerRegistry, settings: Settings
) -> None:
    sink = ListSink()
    worker = Worker(queue, registry, settings, Metrics(), events=sink)

    def echo(payload: dict[str, Any]) -> None:
        raise PermanentError(f"rejected {payload['note']}")

    registry.register("job", echo)
    send(queue, note="x" * 100_000)
    worker.run(until_empty=True)
    [dead] = [e for e in sink.events if e.stage is Stage.DEAD]
    assert dead.error is not None
    assert len(dead.error) == MAX_ERROR_LENGTH
    assert dead.error.startswith("permanent_error: PermanentError: rejected xxx")
    assert dead.error.endswith("…")


def test_errors_are_bounded_on_every_event_made_or_read() -> None:
    short = StatusEvent(id=str(uuid4()), stage=Stage.FAILED, type="t", queue="q", error="boom")
    assert short.error == "boom"
    at_limit = "e" * MAX_ERROR_LENGTH
    assert short.model_validate({**short.model_dump(), "error": at_limit}).error == at_limit
    body = EVENT_LIST.dump_json([short]).decode().replace('"boom"', f'"{"y" * 5000}"')
    [read] = EVENT_LIST.validate_json(body)  # what another writer put on the events queue
    assert read.error == "y" * (MAX_ERROR_LENGTH - 1) + "…"


def event(n: int = 0, error: str | None = None) -> StatusEvent:
    return StatusEvent(id=str(uuid4()), stage=Stage.DONE, type=f"t{n}", queue="q", error=error)


def test_events_are_sent_many_to_a_message_through_the_topic(
    settings: Settings, mocked_aws: None
) -> None:
    ensure_resources(settings)
    events_queue = SqsQueue.from_settings(settings, queue_name=str(settings.sqs.events_queue_name))
    metrics = Metrics()
    publisher = EventPublisher(SnsTopic.from_settings(settings, "messages-events"), metrics)
    sent = [event(n) for n in range(500)]
    for e in sent:
        publisher.publish(e)
    publisher.flush()
    bodies = events_queue.receive(max_messages=10, wait_time_seconds=0)
    received = [e for body in bodies for e in read(body.body)]
    assert sorted(received, key=sent.index) == sent  # every event, in raw bodies
    assert len(bodies) <= 2  # 110 KB of JSON: five plain bodies, two deflated
    # ten bodies fit one PublishBatch, which SNS caps at 256 KiB with attributes
    assert all(len(body.body.encode()) <= MAX_BODY_BYTES for body in bodies)
    assert 10 * MAX_BODY_BYTES < 250_000
    assert counter(metrics, "sqs_status_events_total", result="sent") == 500


def test_bodies_are_signed_with_the_secret_and_left_plain_without_one(
    settings: Settings, mocked_aws: None
) -> None:
    ensure_resources(settings)
    events_queue = SqsQueue.from_settings(settings, queue_name=str(settings.sqs.events_queue_name))
    secret = SecretStr("consumer-and-producer-share-this")
    for key in (secret, None):
        publisher = EventPublisher(events_queue, Metrics(), secret=key)
        publisher.publish(event())
        publisher.flush()
        [body] = events_queue.receive(max_messages=10, wait_time_seconds=0)
        events_queue.delete_batch([body.receipt_handle])
        if key is None:
            assert SIGNATURE_ATTRIBUTE not in body.attributes
        else:
            assert body.text_attribute(SIGNATURE_ATTRIBUTE) == sign(body.body, key)
            assert (body.text_attribute(SIGNATURE_ATTRIBUTE) or "").startswith("v1=")
        assert len(read(body.body)) == 1


def test_packing_keeps_every_body_under_the_limit_even_when_events_barely_deflate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_bodies, "MAX_BODY_BYTES", 2_000)
    events = [event(n, error=uuid4().hex * 3) for n in range(100)]  # random text: little to win
    packed = list(pack(events))
    assert len(packed) > 1
    assert [e for carried, _ in packed for e in carried] == events
    for carried, body in packed:
        assert len(body) <= 2_000
        assert read(body) == carried


def test_an_unreachable_events_queue_drops_events_without_blocking(
    settings: Settings, mocked_aws: None
) -> None:
    missing = SqsQueue(boto3.client("sqs", region_name="us-east-1"), "no-such-queue")
    metrics = Metrics()
    publisher = EventPublisher(missing, metrics, capacity=50)
    for n in range(80):
        publisher.publish(event(n))  # 30 over capacity: the oldest go
    assert counter(metrics, "sqs_status_events_total", result="dropped") == 30
    for _ in range(SEND_ATTEMPTS):
        publisher.flush()  # kept and retried until the attempts run out
    assert counter(metrics, "sqs_status_events_total", result="dropped") == 80
    assert counter(metrics, "sqs_status_events_total", result="sent") == 0
    publisher.flush()
    assert counter(metrics, "sqs_status_events_total", result="dropped") == 80
