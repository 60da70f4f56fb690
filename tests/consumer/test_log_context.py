"""Every line about a message carries its ids: the handler's own lines (plain or async), the
consumer's, and the watchdog's when a call overruns."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from opentelemetry.trace import SpanKind

from consumer.registry import HandlerRegistry
from consumer.testing import TestConsumer
from shared import tracing
from shared.settings import Settings
from tests.aws_samples import sns_notification
from tests.json_log import json_log

log = logging.getLogger("billing")
IDS = ("envelope_id", "message_id", "queue", "correlation_id")


def test_a_handlers_lines_carry_its_messages_ids_plain_or_async() -> None:
    registry = HandlerRegistry(default=None)

    @registry.handler("charge")
    def charge(payload: dict[str, Any]) -> None:
        log.info("charging %s", payload["order"])

    @registry.handler("refund")
    async def refund(payload: dict[str, Any]) -> None:
        log.info("refunding %s", payload["order"])

    with json_log() as captured, TestConsumer(registry) as consumer:
        sent = [
            consumer.send("charge", {"order": "A-1"}, correlation_id="checkout-1"),
            consumer.send("refund", {"order": "A-2"}, correlation_id="checkout-2"),
        ]
        assert len(consumer.drain().done) == 2
    for text, envelope in zip(("charging A-1", "refunding A-2"), sent, strict=True):
        (line,) = captured.about(text)
        assert line["envelope_id"] == str(envelope.id)
        assert line["correlation_id"] == envelope.correlation_id
        assert line["queue"] == consumer.queue.name
        assert line["message_id"]
    assert (
        captured.about("charging")[0]["message_id"] != captured.about("refunding")[0]["message_id"]
    )
    outside = [line for line in captured.lines() if "envelope_id" not in line]
    assert not any("charging" in line["message"] for line in outside)


def test_the_watchdogs_line_about_an_overrun_carries_the_messages_ids() -> None:
    registry = HandlerRegistry(default=None)
    release = threading.Event()

    @registry.handler("stuck")
    def stuck(payload: dict[str, Any]) -> None:
        release.wait(10)

    settings = Settings(
        _env_file=None, sqs={"wait_time_seconds": 0}, consumer={"handler_timeout_seconds": 0.3}
    )
    consumer = TestConsumer(registry, settings=settings)
    envelope = consumer.send("stuck", {}, correlation_id="checkout-9")
    with json_log() as captured:
        consumer.worker.run(max_batches=1)
    release.set()
    (line,) = captured.about("overran")
    assert line["envelope_id"] == str(envelope.id)
    assert line["correlation_id"] == "checkout-9"
    assert all(line[name] for name in IDS)


def test_a_handlers_lines_carry_the_trace_of_the_send_that_made_its_message() -> None:
    registry = HandlerRegistry(default=None)

    @registry.handler("charge")
    def charge(payload: dict[str, Any]) -> None:
        log.info("charging")

    with TestConsumer(registry) as consumer:
        with tracing.span("send messages", SpanKind.PRODUCER) as sending:
            consumer.send("charge", {})
        with json_log() as captured:
            assert len(consumer.drain().done) == 1
    (line,) = captured.about("charging")
    sent = sending.get_span_context()
    assert line["trace_id"] == format(sent.trace_id, "032x")
    assert line["span_id"] != format(sent.span_id, "016x")  # the consumer's own span


NOTIFIED_TRACE = "0af7651916cd43dd8448eb211c80319c"
NOTIFIED = f"00-{NOTIFIED_TRACE}-b7ad6b7169203331-01"


def test_an_sns_notifications_traceparent_in_its_body_is_the_trace_its_handler_continues() -> None:
    registry = HandlerRegistry(default=None)

    @registry.handler("charge")
    def charge(payload: dict[str, Any]) -> None:
        log.info("charging %s", payload["n"])

    with TestConsumer(registry) as consumer, json_log() as captured:
        consumer.send_body(
            sns_notification(
                json.dumps({"n": 1}),
                {"type": ("String", "charge"), "traceparent": ("String", NOTIFIED)},
            )
        )
        assert len(consumer.drain().done) == 1
    (line,) = captured.about("charging 1")
    assert line["trace_id"] == NOTIFIED_TRACE


def test_a_messages_own_traceparent_wins_over_the_one_in_its_notification() -> None:
    registry = HandlerRegistry(default=None)

    @registry.handler("charge")
    def charge(payload: dict[str, Any]) -> None:
        log.info("charging %s", payload["n"])

    own = "00-11111111111111111111111111111111-2222222222222222-01"
    with TestConsumer(registry) as consumer, json_log() as captured:
        consumer.send_body(
            sns_notification(
                json.dumps({"n": 2}),
                {"type": ("String", "charge"), "traceparent": ("String", NOTIFIED)},
            ),
            {"traceparent": own},
        )
        assert len(consumer.drain().done) == 1
    (line,) = captured.about("charging 2")
    assert line["trace_id"] == "1" * 32


def test_an_unreadable_messages_dead_letter_line_carries_the_trace_it_was_sent_in() -> None:
    with TestConsumer(HandlerRegistry(default=None)) as consumer, json_log() as captured:
        consumer.send_body('{"Type": "Notification", "TopicArn": 7}', {"traceparent": NOTIFIED})
        assert len(consumer.drain().dead) == 1
    (line,) = captured.about("dead-letter")
    assert line["trace_id"] == NOTIFIED_TRACE
    assert line["queue"] == consumer.queue.name
