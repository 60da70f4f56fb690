"""Remembering which messages were already handled, so a redelivery does not repeat the work.

SQS delivers at least once. For a handler marked idempotent the envelope id is claimed
before the handler runs and marked complete after; a redelivered message whose work is
complete is acknowledged without running again. A failed run releases its claim so the
retry can run. A claim is short (the visibility timeout) and renewed while the handler
runs, so the claim of a consumer that crashed expires by the time SQS redelivers. The
in-memory store serves one process; DynamoDB serves every consumer (a conditional put, as
AWS Lambda Powertools does, with DynamoDB's TTL cleaning up).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from shared.aws import translate_errors
from shared.aws.clients import build_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from shared.settings import Settings


class Claim(Enum):
    NEW = "new"
    """Nobody handled this message yet: run the handler."""
    COMPLETED = "completed"
    """Already handled: acknowledge without running."""
    IN_PROGRESS = "in_progress"
    """Another consumer is handling it right now: try again later."""


class IdempotencyStore(Protocol):
    def claim(self, key: str, hold_seconds: float) -> Claim:
        """Claim `key` for `hold_seconds`, unless it is completed or held by someone else."""

    def extend(self, key: str, hold_seconds: float) -> None:
        """Keep holding a claim that is still in progress, for `hold_seconds` from now."""

    def complete(self, key: str, ttl_seconds: float) -> None:
        """Record `key` as handled for `ttl_seconds`."""

    def release(self, key: str) -> None:
        """Drop a claim after a failed run so a retry can claim it."""


class MemoryStore:
    """One process's memory, with expiry; safe across threads."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[bool, float]] = {}  # key -> (completed, expires_at)
        self._lock = threading.Lock()
        self._now = now

    def claim(self, key: str, hold_seconds: float) -> Claim:
        now = self._now()
        with self._lock:
            self._prune(now)
            entry = self._entries.get(key)
            if entry is not None:
                return Claim.COMPLETED if entry[0] else Claim.IN_PROGRESS
            self._entries[key] = (False, now + hold_seconds)
            return Claim.NEW

    def extend(self, key: str, hold_seconds: float) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry[0]:
                self._entries[key] = (False, self._now() + hold_seconds)

    def complete(self, key: str, ttl_seconds: float) -> None:
        with self._lock:
            self._entries[key] = (True, self._now() + ttl_seconds)

    def release(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            self._prune(self._now())
            return len(self._entries)

    def _prune(self, now: float) -> None:
        expired = [key for key, (_, expires) in self._entries.items() if expires <= now]
        for key in expired:
            del self._entries[key]


class DynamoDBStore:
    """A DynamoDB table keyed by `id`, with `status` and an `expiration` TTL attribute."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def claim(self, key: str, hold_seconds: float) -> Claim:
        now = int(time.time())
        with translate_errors("DynamoDB", self.table):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={
                        "id": {"S": key},
                        "status": {"S": "IN_PROGRESS"},
                        "expiration": {"N": str(now + int(hold_seconds) + 1)},
                    },
                    # Absent, or present but expired and not yet swept by DynamoDB's TTL.
                    ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                return self._current(key)
        return Claim.NEW

    def _current(self, key: str) -> Claim:
        item = self.client.get_item(
            TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
        ).get("Item", {})
        status = item.get("status", {}).get("S")
        return Claim.COMPLETED if status == "COMPLETED" else Claim.IN_PROGRESS

    def extend(self, key: str, hold_seconds: float) -> None:
        with translate_errors("DynamoDB", self.table):
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key={"id": {"S": key}},
                    UpdateExpression="SET expiration = :expiration",
                    ConditionExpression="#status = :in_progress",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":expiration": {"N": str(int(time.time() + hold_seconds) + 1)},
                        ":in_progress": {"S": "IN_PROGRESS"},
                    },
                )
            except ClientError as exc:  # completed or released meanwhile: nothing to keep
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def complete(self, key: str, ttl_seconds: float) -> None:
        with translate_errors("DynamoDB", self.table):
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": key},
                    "status": {"S": "COMPLETED"},
                    "expiration": {"N": str(int(time.time() + ttl_seconds))},
                },
            )

    def release(self, key: str) -> None:
        with translate_errors("DynamoDB", self.table):
            self.client.delete_item(TableName=self.table, Key={"id": {"S": key}})


def store_from_settings(settings: Settings) -> IdempotencyStore:
    if settings.consumer.idempotency_store == "dynamodb":
        return DynamoDBStore(
            build_client("dynamodb", settings), settings.consumer.idempotency_table
        )
    return MemoryStore()
