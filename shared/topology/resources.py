"""Every resource the services need, made or brought to the configured shape: idempotent.

The queue and its dead-letter queue, the status events queue (and the topic fanning
events out to it and to each producer replica), the status and idempotency
tables (when DynamoDB holds them) and,
with `TOPICS_FILE` set, the declared topics, their queues and subscriptions. The local run,
docker compose and the tests all call it, as often as they like.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.aws import build_client, translate_errors
from shared.topology.events_topic import ensure_events_queue, ensure_events_topic
from shared.topology.queues import QueuePair, ensure_queue_pair
from shared.topology.subscriptions import ensure_topics
from shared.topology.topics_file import load_topics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        KeySchemaElementTypeDef,
    )
    from mypy_boto3_sqs.client import SQSClient

    from shared.settings import Settings

log = logging.getLogger(__name__)


def ensure_queues(settings: Settings, client: SQSClient | None = None) -> QueuePair:
    """Make the dead-letter queue, then the main queue redriving into it."""
    sqs = settings.sqs
    client = client or build_client("sqs", settings)
    pair = ensure_queue_pair(client, sqs.queue_name, sqs.dlq_name, sqs)
    log.info("queues ready: %s -> dead letters %s", sqs.queue_name, sqs.dlq_name)
    return pair


def ensure_resources(settings: Settings) -> QueuePair:
    """Everything the services need. A bad topics file fails before anything is made."""
    topics = load_topics(settings)
    sqs = build_client("sqs", settings)
    pair = ensure_queues(settings, sqs)
    events, topic = settings.sqs.events_queue_name, settings.sqs.events_topic
    if events and topic:
        ensure_events_topic(build_client("sns", settings), sqs, topic, events)
    elif events:
        ensure_events_queue(sqs, events)
        log.info("events queue ready: %s", events)
    if settings.consumer.idempotency_store == "dynamodb":
        table = settings.consumer.idempotency_table
        ensure_table(build_client("dynamodb", settings), table)
        log.info("idempotency table ready: %s", table)
    if settings.producer.status_store == "dynamodb":
        table = settings.producer.status_table
        ensure_table(build_client("dynamodb", settings), table, sort_key="event")
        log.info("status table ready: %s", table)
    if topics.topics:
        ensure_topics(settings, topics, sqs=sqs)
    return pair


def ensure_table(client: DynamoDBClient, table: str, sort_key: str | None = None) -> None:
    """Create a table keyed by `id` (and `sort_key`), with its TTL attribute `expiration`,
    if it does not exist yet."""
    with translate_errors("DynamoDB", table):
        try:
            client.describe_table(TableName=table)
            return
        except client.exceptions.ResourceNotFoundException:
            pass
        attributes: list[AttributeDefinitionTypeDef] = [
            {"AttributeName": "id", "AttributeType": "S"}
        ]
        keys: list[KeySchemaElementTypeDef] = [{"AttributeName": "id", "KeyType": "HASH"}]
        if sort_key:
            attributes.append({"AttributeName": sort_key, "AttributeType": "S"})
            keys.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        client.create_table(
            TableName=table,
            AttributeDefinitions=attributes,
            KeySchema=keys,
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        client.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )
