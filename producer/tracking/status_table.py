"""Message status in DynamoDB, shared by every producer replica and kept across restarts.

The table is a log of status events: one item per message (partition key `id`) and stage
(sort key `event`: attempt, stage and queue), holding the event as JSON, with a TTL. An
event written twice lands on the same item, so writes need no conditions, and any number
of events go in one BatchWriteItem (25 at most) whatever message they belong to: the
status path costs a fraction of a request per message. The current stage is worked out on
read from every event, by the same rules as in memory, so it never goes backwards however
late an event was written. A message has a bounded number of items (its attempts times the
stages, per queue) and each is small (an event's error is at most 500 characters).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from shared.aws import translate_errors
from shared.messages.status_events import EVENT_LIST, StatusEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

BATCH_ITEMS = 25
"""DynamoDB's most items per BatchWriteItem."""
UNPROCESSED_RETRIES = 3
"""Rounds for items DynamoDB hands back unwritten (throttling), with a short pause between."""
MAX_EVENTS_READ = 200
"""Events read for one message: more than any message retried to its dead-letter queue has."""


def event_key(event: StatusEvent) -> str:
    """The sort key: one item per attempt, stage and queue; a repeat overwrites itself."""
    return f"{event.attempt:05d}#{event.stage.value}#{event.queue}"


class StatusTable:
    """Writes and reads status events; every call is one or a few DynamoDB requests."""

    def __init__(self, client: DynamoDBClient, table: str, ttl_seconds: int) -> None:
        self.client = client
        self.table = table
        self.ttl_seconds = ttl_seconds

    def write(self, events: Sequence[StatusEvent]) -> None:
        """Store `events`, 25 to a request; raises what DynamoDB raised, or RuntimeError
        for items still unwritten after the retries."""
        unique = {(event.id, event_key(event)): event for event in events}
        items = list(unique.items())
        expiration = str(int(time.time()) + self.ttl_seconds)
        for start in range(0, len(items), BATCH_ITEMS):
            requests: list[WriteRequestTypeDef] = [
                {
                    "PutRequest": {
                        "Item": {
                            "id": {"S": message_id},
                            "event": {"S": key},
                            "body": {"S": event.model_dump_json()},
                            "expiration": {"N": expiration},
                        }
                    }
                }
                for (message_id, key), event in items[start : start + BATCH_ITEMS]
            ]
            self._write_batch(requests)

    def _write_batch(self, requests: list[WriteRequestTypeDef]) -> None:
        pending = {self.table: requests}
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            with translate_errors("DynamoDB", self.table):
                answer = self.client.batch_write_item(RequestItems=pending)
            unprocessed = answer.get("UnprocessedItems", {})
            if not unprocessed.get(self.table):
                return
            pending = {self.table: cast("list[WriteRequestTypeDef]", unprocessed[self.table])}
        raise RuntimeError(f"{len(pending[self.table])} status events unwritten to {self.table}")

    def read(self, message_id: str) -> list[StatusEvent]:
        """Every event stored for `message_id` (none for a message never seen)."""
        with translate_errors("DynamoDB", self.table):
            answer = self.client.query(
                TableName=self.table,
                KeyConditionExpression="id = :id",
                ExpressionAttributeValues={":id": {"S": message_id}},
                ConsistentRead=True,
                Limit=MAX_EVENTS_READ,
            )
        bodies = [item["body"]["S"] for item in answer.get("Items", [])]
        return EVENT_LIST.validate_json("[" + ",".join(bodies) + "]")
