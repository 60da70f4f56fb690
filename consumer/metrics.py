"""Prometheus counters for the worker, on a registry of their own so tests can read them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.received = Counter(
            "sqs_messages_received", "Messages received from SQS.", registry=self.registry
        )
        self.processed = Counter(
            "sqs_messages_processed",
            "Messages whose handler succeeded.",
            ["handler"],
            registry=self.registry,
        )
        self.failed = Counter(
            "sqs_messages_failed",
            "Messages not handled: invalid_body, no_handler or handler_error.",
            ["reason"],
            registry=self.registry,
        )
        self.deleted = Counter(
            "sqs_messages_deleted", "Messages deleted (acknowledged).", registry=self.registry
        )
        self.released = Counter(
            "sqs_messages_released",
            "Received messages handed back unstarted at shutdown.",
            registry=self.registry,
        )
        self.receive_errors = Counter(
            "sqs_receive_errors", "Receive calls that failed.", registry=self.registry
        )
        self.handler_seconds = Histogram(
            "sqs_handler_duration_seconds",
            "Time spent in handlers.",
            ["handler"],
            registry=self.registry,
        )
        self.last_receive = Gauge(
            "sqs_last_receive_timestamp_seconds",
            "Unix time of the last completed receive call.",
            registry=self.registry,
        )
