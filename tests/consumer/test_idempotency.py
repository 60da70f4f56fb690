from __future__ import annotations

import time

import boto3
import pytest

from consumer.idempotency import Claim, DynamoDBStore, IdempotencyStore, MemoryStore
from shared.topology.resources import ensure_table
from tests.consumer.test_heartbeat import Clock


def claims_completes_and_releases(store: IdempotencyStore) -> None:
    """What every store must do, whatever keeps its records."""
    assert store.claim("a", hold_seconds=60) is Claim.NEW
    assert store.claim("a", hold_seconds=60) is Claim.IN_PROGRESS
    store.release("a")
    assert store.claim("a", hold_seconds=60) is Claim.NEW
    store.complete("a", ttl_seconds=100)
    assert store.claim("a", hold_seconds=60) is Claim.COMPLETED
    assert store.claim("b", hold_seconds=60) is Claim.NEW


def test_memory_store_claims_completes_releases_and_forgets() -> None:
    clock = Clock()
    store = MemoryStore(now=clock)
    claims_completes_and_releases(store)
    clock.now += 101
    assert store.claim("a", hold_seconds=60) is Claim.NEW  # forgotten after its TTL
    clock.now += 61
    assert len(store) == 0  # an expired claim is gone too


@pytest.fixture
def dynamodb_store(mocked_aws: None) -> DynamoDBStore:
    client = boto3.client("dynamodb", region_name="us-east-1")
    ensure_table(client, "idempotency")
    ensure_table(client, "idempotency")  # idempotent
    return DynamoDBStore(client, "idempotency")


def test_dynamodb_table_has_a_ttl_attribute(dynamodb_store: DynamoDBStore) -> None:
    ttl = dynamodb_store.client.describe_time_to_live(TableName="idempotency")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_dynamodb_store_has_the_same_semantics(dynamodb_store: DynamoDBStore) -> None:
    claims_completes_and_releases(dynamodb_store)


def test_an_expired_claim_can_be_taken_over(dynamodb_store: DynamoDBStore) -> None:
    dynamodb_store.client.put_item(
        TableName="idempotency",
        Item={
            "id": {"S": "stale"},
            "status": {"S": "IN_PROGRESS"},
            "expiration": {"N": str(int(time.time()) - 5)},
        },
    )
    assert dynamodb_store.claim("stale", hold_seconds=60) is Claim.NEW


def test_a_claim_in_progress_can_be_extended_but_not_a_completed_one() -> None:
    clock = Clock()
    store = MemoryStore(now=clock)
    store.claim("a", hold_seconds=10)
    clock.now += 8
    store.extend("a", hold_seconds=10)
    clock.now += 8
    assert store.claim("a", hold_seconds=10) is Claim.IN_PROGRESS  # still held: extended
    store.complete("a", ttl_seconds=100)
    store.extend("a", hold_seconds=1)
    clock.now += 50
    assert store.claim("a", hold_seconds=10) is Claim.COMPLETED


def test_dynamodb_extends_only_claims_in_progress(dynamodb_store: DynamoDBStore) -> None:
    def expiration(key: str) -> int:
        item = dynamodb_store.client.get_item(TableName="idempotency", Key={"id": {"S": key}})
        return int(item["Item"]["expiration"]["N"])

    dynamodb_store.claim("a", hold_seconds=10)
    before = expiration("a")
    dynamodb_store.extend("a", hold_seconds=100)
    assert expiration("a") >= before + 80
    dynamodb_store.complete("a", ttl_seconds=5)
    completed = expiration("a")
    dynamodb_store.extend("a", hold_seconds=1000)
    assert expiration("a") == completed
    dynamodb_store.extend("never-claimed", hold_seconds=10)  # no error, nothing created
    assert dynamodb_store.claim("never-claimed", hold_seconds=10) is Claim.NEW
