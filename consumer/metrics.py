"""Prometheus metrics for the worker, on a registry of their own so tests can read them."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

AGE_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
    21600,
    86400,
)
"""From a message that waited ten milliseconds to one that waited a day: backlogs are part
of what these measure."""


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.received = self._counter("sqs_messages_received", "Messages received from SQS.")
        self.processed = self._counter(
            "sqs_messages_processed", "Messages whose handler succeeded.", ["handler"]
        )
        self.failed = self._counter(
            "sqs_messages_failed",
            "Failures by reason: handler_error, invalid_body, invalid_payload, no_handler.",
            ["reason"],
        )
        self.formats = self._counter(
            "sqs_messages_read",
            "Messages read, by format: envelope, sns, s3, eventbridge, json, text.",
            ["format"],
        )
        self.skipped = self._counter(
            "sqs_messages_skipped",
            "Messages acknowledged with nothing to run, by what they were (s3:TestEvent).",
            ["kind"],
        )
        self.deleted = self._counter("sqs_messages_deleted", "Messages deleted (acknowledged).")
        self.retried = self._counter(
            "sqs_messages_retried", "Failed messages scheduled for a later retry."
        )
        self.dead_lettered = self._counter(
            "sqs_messages_dead_lettered", "Messages sent to the dead-letter queue.", ["reason"]
        )
        self.duplicates = self._counter(
            "sqs_messages_duplicate", "Redeliveries acknowledged without running again."
        )
        self.released = self._counter(
            "sqs_messages_released", "Received messages handed back unstarted at shutdown."
        )
        self.abandoned = self._counter(
            "sqs_handlers_abandoned", "Handlers that overran their time limit."
        )
        self.visibility_extended = self._counter(
            "sqs_visibility_extended", "Visibility extensions of held messages."
        )
        self.ack_failures = self._counter(
            "sqs_ack_failures", "Deletes, visibility changes or dead-letter sends that failed."
        )
        self.receive_errors = self._counter("sqs_receive_errors", "Receive calls that failed.")
        self.status_events = self._counter(
            "sqs_status_events",
            "Status events for the producer's feed: sent, or dropped (buffer full, queue down).",
            ["result"],
        )
        self.handler_seconds = Histogram(
            "sqs_handler_duration_seconds",
            "Time spent in handlers.",
            ["handler"],
            registry=self.registry,
        )
        self.message_age = Histogram(
            "sqs_message_age_seconds",
            "How long a message waited in its queue before this receive (SentTimestamp).",
            ["queue"],
            buckets=AGE_BUCKETS,
            registry=self.registry,
        )
        self.end_to_end = Histogram(
            "sqs_message_end_to_end_seconds",
            "From a message's creation (its envelope's created_at) until its handler succeeded.",
            ["queue"],
            buckets=AGE_BUCKETS,
            registry=self.registry,
        )
        self.last_receive = Gauge(
            "sqs_last_receive_timestamp_seconds",
            "Unix time of the last completed receive call.",
            registry=self.registry,
        )

    def _counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)
