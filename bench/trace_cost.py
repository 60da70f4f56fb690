"""(t) what a message's trace ids cost with no OpenTelemetry SDK, as the services run by default.

The calls each message goes through for its ids, in the order the services make them: in
the producer, the request's span continuing the caller's `traceparent`, its log scope, the
route and status set on it, the `send` span and the context written into the message's
attributes; in the consumer, the context read back from those attributes, the `process`
span and the two log scopes a message and its envelope bind. They are timed here, in one
process, as CPU per message, and reported beside the system's CPU per message measured in
the same run: the share is what the ids add to what a message costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry.trace import SpanKind

from shared import log_context, tracing
from shared.aws.entries import ReceivedMessage
from shared.messages.envelope import Envelope

ROUNDS = 20_000
CALLER = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
MAX_SHARE = 0.03
"""The most the ids may add to the system's CPU per message and still be negligible."""


@dataclass(frozen=True)
class TraceCost:
    producer_ms: float
    consumer_ms: float

    @property
    def ms_per_message(self) -> float:
        return self.producer_ms + self.consumer_ms


def measure_trace_cost(rounds: int = ROUNDS) -> TraceCost:
    """CPU ms per message of the producer's and the consumer's trace and log-scope calls."""
    if tracing.recording():
        raise RuntimeError("an OpenTelemetry SDK records here: the no-SDK cost is not measured")
    envelope = Envelope(type="bench.traced", payload={})
    with tracing.span("send messages", SpanKind.PRODUCER):
        sent = envelope.outgoing(trace=tracing.outgoing())
    message = ReceivedMessage("m-1", "r-1", sent.body, 1, dict(sent.attributes))
    started = time.process_time()
    for _ in range(rounds):
        _producer(envelope)
    produced = time.process_time()
    for _ in range(rounds):
        _consumer(message, envelope)
    consumed = time.process_time()
    return TraceCost(
        producer_ms=(produced - started) * 1000 / rounds,
        consumer_ms=(consumed - produced) * 1000 / rounds,
    )


def _producer(envelope: Envelope) -> None:
    """The message's own encoding is not counted: only the context it carries is."""
    with (
        tracing.span(
            "POST",
            SpanKind.SERVER,
            parent=tracing.incoming(CALLER),
            attributes={"http.request.method": "POST"},
        ) as request,
        log_context.bound(),
    ):
        with tracing.span(
            "send messages",
            SpanKind.PRODUCER,
            attributes=tracing.messaging_attributes("send", "messages"),
        ) as send:
            tracing.outgoing()
            send.set_attribute("messaging.message.id", "m-1")
        log_context.add(
            envelope_id=str(envelope.id),
            message_id="m-1",
            correlation_id=envelope.correlation_id,
            queue="messages",
        )
        request.update_name("POST /messages")
        request.set_attribute("http.route", "/messages")
        request.set_attribute("http.response.status_code", 202)


def _consumer(message: ReceivedMessage, envelope: Envelope) -> None:
    with (
        log_context.bound(message_id=message.message_id, queue="messages"),
        tracing.span(
            "process messages",
            SpanKind.CONSUMER,
            parent=tracing.message_parent(message),
            attributes=tracing.messaging_attributes(
                "process", "messages", message_id=message.message_id
            ),
        ),
        log_context.bound(envelope_id=str(envelope.id), correlation_id=envelope.correlation_id),
    ):
        pass
