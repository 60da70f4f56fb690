"""Counting the AWS requests each process makes (every service), from the clients' own events.

Every HTTP attempt counts, retries included: that is what SQS bills and what batching is
meant to save. The counter lives in prometheus-client's default registry, which both
services serve at /metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter

if TYPE_CHECKING:
    from botocore.client import BaseClient


def requests_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "aws_requests",
        "HTTP requests sent to AWS APIs, retries included.",
        ["service", "operation"],
        registry=registry,
    )


AWS_REQUESTS = requests_counter(REGISTRY)


def count_requests(client: BaseClient, counter: Counter = AWS_REQUESTS) -> None:
    """Count every request `client` sends, by service and operation."""
    service = client.meta.service_model.service_name

    def on_send(event_name: str, **_: Any) -> None:
        counter.labels(service, event_name.rsplit(".", 1)[-1]).inc()

    client.meta.events.register(f"before-send.{service}.*", on_send)
