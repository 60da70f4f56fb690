"""Create the queue and its dead-letter queue, or bring existing ones to the configured shape.

With `TOPICS_FILE` set it also makes the declared SNS topics, their subscribed queues and
the subscriptions (see `shared.subscriptions`). Idempotent: the local run, docker compose
and the tests all call it, as often as they like.
Run it as `python -m shared.bootstrap [--wait SECONDS]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import TYPE_CHECKING

from shared.aws import build_dynamodb_client, build_sqs_client
from shared.errors import SqsError, SqsUnavailableError
from shared.logging import configure_logging
from shared.queues import DLQ_RETENTION_SECONDS, QueuePair, ensure_queue, ensure_queue_pair
from shared.settings import Settings, get_settings
from shared.sqs import translate_errors
from shared.subscriptions import ensure_topics
from shared.topics import TopicsConfigError, load_topics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

__all__ = [
    "DLQ_RETENTION_SECONDS",
    "EVENTS_RETENTION_SECONDS",
    "QueuePair",
    "ensure_idempotency_table",
    "ensure_queues",
    "ensure_queues_when_reachable",
    "ensure_resources",
    "main",
]

log = logging.getLogger(__name__)

EVENTS_RETENTION_SECONDS = 600
"""Status events are news, not records: an hour-old "done" helps no live feed."""


def ensure_queues(settings: Settings, client: SQSClient | None = None) -> QueuePair:
    """Make the dead-letter queue, then the main queue redriving into it."""
    sqs = settings.sqs
    client = client or build_sqs_client(settings)
    pair = ensure_queue_pair(client, sqs.queue_name, sqs.dlq_name, sqs)
    log.info("queues ready: %s -> dead letters %s", sqs.queue_name, sqs.dlq_name)
    return pair


def ensure_resources(settings: Settings) -> QueuePair:
    """Everything the services need: the queues, the events queue, the idempotency table and
    the declared topics. A bad topics file fails before anything is made."""
    topics = load_topics(settings)
    sqs = build_sqs_client(settings)
    pair = ensure_queues(settings, sqs)
    events = settings.sqs.events_queue_name
    if events:
        ensure_queue(sqs, events, {"MessageRetentionPeriod": str(EVENTS_RETENTION_SECONDS)})
        log.info("events queue ready: %s", events)
    if settings.consumer.idempotency_store == "dynamodb":
        table = settings.consumer.idempotency_table
        ensure_idempotency_table(build_dynamodb_client(settings), table)
        log.info("idempotency table ready: %s", table)
    if topics.topics:
        ensure_topics(settings, topics, sqs=sqs)
    return pair


def ensure_idempotency_table(client: DynamoDBClient, table: str) -> None:
    """Create the idempotency table with its TTL attribute, if it does not exist yet."""
    with translate_errors(table):
        try:
            client.describe_table(TableName=table)
            return
        except client.exceptions.ResourceNotFoundException:
            pass
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        client.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )


def ensure_queues_when_reachable(settings: Settings, wait_seconds: float) -> QueuePair:
    """Retry `ensure_resources` while the endpoint is still starting, up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            return ensure_resources(settings)
        except SqsUnavailableError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.info("waiting for SQS at %s: %s", settings.sqs.endpoint_url or "AWS", exc)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to keep retrying an unreachable endpoint"
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        pair = ensure_queues_when_reachable(settings, args.wait)
    except (SqsError, TopicsConfigError) as exc:
        log.error("bootstrap failed: %s", exc)
        return 1
    print(json.dumps({"queue_url": pair.queue_url, "dlq_url": pair.dlq_url}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
