"""Messages other systems write reach the right handler, typed the way ours are."""

from __future__ import annotations

import json
from typing import Any

from consumer.registry import HandlerRegistry, PermanentError
from consumer.testing import TestConsumer
from shared.messages.envelope import Envelope
from shared.messages.formats.s3_events import S3EventRecord
from shared.messages.status_events import Stage
from tests.aws_samples import (
    S3_TEST_EVENT,
    TOPIC_ARN,
    eventbridge_event,
    s3_notification,
    s3_record,
    sns_notification,
)


def skipped(consumer: TestConsumer, kind: str) -> float:
    value = consumer.metrics.registry.get_sample_value("sqs_messages_skipped_total", {"kind": kind})
    return value or 0.0


def test_each_format_reaches_the_handler_registered_for_it() -> None:
    registry = HandlerRegistry(default=None)
    seen: list[tuple[str, str, Any]] = []

    @registry.handler("order.created")
    def order(payload: dict[str, Any], envelope: Envelope) -> None:
        seen.append(("order", envelope.origin.format, payload))

    @registry.handler("aws.s3:ObjectCreated:*")
    def created(record: S3EventRecord) -> None:
        seen.append(("s3", record.event_name, record.key))

    @registry.handler("aws.ec2:EC2 Instance State-change Notification")
    def ec2(detail: dict[str, Any]) -> None:
        seen.append(("ec2", "eventbridge", detail["state"]))

    @registry.handler("note")
    def note(text: str) -> None:
        seen.append(("note", "text", text))

    consumer = TestConsumer(registry)
    consumer.send("order.created", {"n": 1})
    consumer.send_body(json.dumps({"n": 2}), {"type": "order.created"})
    consumer.send_body(
        sns_notification(json.dumps({"n": 3}), {"type": ("String", "order.created")})
    )
    consumer.send_body(s3_notification(s3_record("a+b.txt")))
    consumer.send_body(eventbridge_event())
    consumer.send_body("remember the milk", {"type": "note"})
    result = consumer.drain()
    assert result.dead == []
    assert sorted(seen, key=str) == sorted(
        [
            ("order", "envelope", {"n": 1}),
            ("order", "json", {"n": 2}),
            ("order", "json", {"n": 3}),
            ("s3", "ObjectCreated:Put", "a b.txt"),
            ("ec2", "eventbridge", "pending"),
            ("note", "text", "remember the milk"),
        ],
        key=str,
    )


def test_the_s3_test_event_is_acknowledged_and_counted_not_dead_lettered() -> None:
    consumer = TestConsumer(HandlerRegistry(default=None))
    consumer.send_body(S3_TEST_EVENT)
    result = consumer.drain()
    assert result.dead == []
    assert result.waiting == 0
    assert skipped(consumer, "s3:TestEvent") == 1


def test_an_sns_notification_keeps_the_topic_and_its_inner_envelope_id() -> None:
    registry = HandlerRegistry(default=None)
    seen: list[Envelope] = []
    registry.register("order.created", lambda payload, envelope: seen.append(envelope))
    inner = Envelope(type="order.created", payload={"n": 1})
    consumer = TestConsumer(registry)
    consumer.send_body(sns_notification(inner.to_body()))
    assert consumer.drain().done == [inner.id]
    [envelope] = seen
    assert envelope.origin.sns is not None
    assert envelope.origin.sns.topic_arn == TOPIC_ARN
    assert envelope.origin.format == "envelope"  # what the notification carried
    read = consumer.metrics.registry.get_sample_value
    assert read("sqs_messages_read_total", {"format": "sns"}) == 1
    assert read("sqs_messages_read_total", {"format": "envelope"}) is None


def test_an_id_less_envelope_keeps_one_id_across_retries() -> None:
    registry = HandlerRegistry(default=None)
    ids: list[str] = []

    def flaky(payload: dict[str, Any], envelope: Envelope) -> None:
        ids.append(envelope.id)
        if len(ids) == 1:
            raise RuntimeError("first try fails")

    registry.register("job", flaky)
    consumer = TestConsumer(registry)
    consumer.send_body(json.dumps({"type": "job", "payload": {}}))
    result = consumer.drain()
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert result.done == [ids[0]]
    stages = [(e.id, e.stage) for e in consumer.events]
    assert (ids[0], Stage.FAILED) in stages  # the feed follows one message, not two


def test_an_idempotent_handler_runs_an_id_less_envelope_once_across_redeliveries() -> None:
    registry = HandlerRegistry(default=None)
    runs: list[str] = []
    calls = 0

    def pay(payload: dict[str, Any], envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            runs.append(envelope.id)
            return
        raise AssertionError("ran twice")

    registry.register("pay", pay, idempotent=True)
    consumer = TestConsumer(registry)
    consumer.send_body(json.dumps({"type": "pay", "payload": {}}))
    # The worker's first delete is lost: SQS delivers the same message again.
    original_delete = consumer.queue.delete_batch
    lost = [True]

    def delete_once_lost(handles: Any) -> Any:
        if lost.pop() if lost else False:
            return []  # reported deleted, but kept: as a lost acknowledgement is
        return original_delete(handles)

    consumer.queue.delete_batch = delete_once_lost  # type: ignore[method-assign,assignment]
    consumer.drain()
    assert runs
    assert calls == 1


def test_a_handler_of_json_objects_refuses_text_as_an_invalid_payload() -> None:
    registry = HandlerRegistry(default=None)
    registry.register("order.created", lambda payload: None)
    registry.register("typed", lambda payload: None)

    def takes_dict(payload: dict[str, Any]) -> None:
        raise AssertionError("must not run on text")

    registry.register("dicts", takes_dict)
    consumer = TestConsumer(registry)
    consumer.send_body("not json", {"type": "dicts"})
    [dead] = consumer.drain().dead
    assert dead.reason == "invalid_payload"
    assert dead.error is not None
    assert "str" in dead.error


def test_the_default_handler_takes_text_and_untyped_json() -> None:
    consumer = TestConsumer(HandlerRegistry(), default_handler=True)  # it logs every message
    consumer.send_body("plain text")
    consumer.send_body(json.dumps({"a": 1}))
    result = consumer.drain()
    assert result.dead == []
    assert result.waiting == 0


def test_a_multi_record_s3_event_retries_and_skips_completed_records_when_idempotent() -> None:
    registry = HandlerRegistry(default=None)
    handled: list[str] = []
    failed = [False]

    def created(record: S3EventRecord) -> None:
        if record.key == "b" and not failed[0]:
            failed[0] = True
            raise RuntimeError("b fails once")
        handled.append(record.key)

    registry.register("aws.s3:ObjectCreated:*", created, idempotent=True)
    consumer = TestConsumer(registry)
    consumer.send_body(s3_notification(s3_record("a"), s3_record("b")))
    result = consumer.drain()
    assert handled == ["a", "b"]  # a ran once: the retry skipped it
    assert result.dead == []


def test_the_exact_type_wins_over_a_wildcard_and_the_longest_wildcard_over_shorter() -> None:
    registry = HandlerRegistry(default=None)
    seen: list[str] = []
    registry.register("aws.s3:*", lambda p: seen.append("any"))
    registry.register("aws.s3:ObjectCreated:*", lambda p: seen.append("created"))
    registry.register("aws.s3:ObjectCreated:Copy", lambda p: seen.append("copy"))
    consumer = TestConsumer(registry)
    for event in ("ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete"):
        consumer.send_body(s3_notification(s3_record(event=event)))
        consumer.drain()
    assert seen == ["created", "copy", "any"]


def test_a_permanent_error_on_a_foreign_message_dead_letters_it_whole() -> None:
    registry = HandlerRegistry(default=None)

    def refuse(detail: dict[str, Any]) -> None:
        raise PermanentError("not for us")

    registry.register("aws.ec2:*", refuse)
    consumer = TestConsumer(registry)
    consumer.send_body(eventbridge_event(), {"tenant": "acme"})
    [dead] = consumer.drain().dead
    assert dead.reason == "permanent_error"
    assert dead.type == "aws.ec2:EC2 Instance State-change Notification"
    assert dead.envelope_id == "7bf73129-1428-4cd3-a780-95db273d1602"
    assert dead.attributes == {"tenant": "acme"}
