"""Create the queue and its dead-letter queue, or bring existing ones to the configured shape.

Idempotent: the local run, docker compose and the tests all call it, as often as they like.
Run it as `python -m shared.bootstrap [--wait SECONDS]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.aws import build_dynamodb_client, build_sqs_client
from shared.errors import SqsError, SqsUnavailableError
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.sqs import translate_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

log = logging.getLogger(__name__)

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""The longest SQS allows, so dead letters outlive the messages they came from."""
EVENTS_RETENTION_SECONDS = 600
"""Status events are news, not records: an hour-old "done" helps no live feed."""


@dataclass(frozen=True)
class QueuePair:
    queue_url: str
    dlq_url: str
    dlq_arn: str


def ensure_queues(settings: Settings, client: SQSClient | None = None) -> QueuePair:
    """Make the dead-letter queue, then the main queue redriving into it."""
    sqs = settings.sqs
    client = client or build_sqs_client(settings)
    dlq_url = _ensure_queue(
        client, sqs.dlq_name, {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )
    with translate_errors(sqs.dlq_name):
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(sqs.max_receive_count)}
    queue_url = _ensure_queue(
        client,
        sqs.queue_name,
        {
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(sqs.visibility_timeout),
        },
    )
    log.info("queues ready: %s -> dead letters %s", sqs.queue_name, sqs.dlq_name)
    return QueuePair(queue_url, dlq_url, dlq_arn)


def ensure_resources(settings: Settings) -> QueuePair:
    """Everything the services need: the queues, the events queue, and the idempotency table."""
    pair = ensure_queues(settings)
    events = settings.sqs.events_queue_name
    if events:
        _ensure_queue(
            build_sqs_client(settings),
            events,
            {"MessageRetentionPeriod": str(EVENTS_RETENTION_SECONDS)},
        )
        log.info("events queue ready: %s", events)
    if settings.consumer.idempotency_store == "dynamodb":
        table = settings.consumer.idempotency_table
        ensure_idempotency_table(build_dynamodb_client(settings), table)
        log.info("idempotency table ready: %s", table)
    return pair


def _ensure_queue(client: SQSClient, name: str, attributes: dict[str, str]) -> str:
    """Create the queue, or update it: CreateQueue fails on a queue whose attributes differ.

    A `.fifo` name makes a FIFO queue; that can only be chosen at creation.
    """
    with translate_errors(name):
        try:
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            created = {**attributes, "FifoQueue": "true"} if name.endswith(".fifo") else attributes
            return client.create_queue(QueueName=name, Attributes=created)["QueueUrl"]  # type: ignore[arg-type]
        client.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]
        return url


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
    except SqsError as exc:
        log.error("bootstrap failed: %s", exc)
        return 1
    print(json.dumps({"queue_url": pair.queue_url, "dlq_url": pair.dlq_url}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
