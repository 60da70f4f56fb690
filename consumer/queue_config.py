"""What a worker must know of its queue, read once from the queue itself, which rules.

The visibility timeout paces the heartbeat and the idempotency claim; maxReceiveCount says
when a failure is final; the RedrivePolicy names where dead letters go. One frozen value,
read before the worker starts, is handed to every part that needs it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from consumer.queue import Queue
from shared.aws import AwsError
from shared.aws.limits import is_fifo
from shared.messages.dead_letter import dead_letter_queue_of
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueConfig:
    name: str
    visibility_timeout: int
    max_receive_count: int | None
    """None when the queue has no RedrivePolicy: failures are retried for ever."""
    dead_letter_queue: str
    """The RedrivePolicy's target, so dead letters go where SQS itself would move them."""

    @property
    def fifo(self) -> bool:
        return is_fifo(self.name)

    @classmethod
    def from_settings(cls, name: str, settings: Settings) -> QueueConfig:
        """What bootstrap made: the settings' timings, and the DLQ by the one naming rule
        (the main queue's `SQS_DLQ_NAME`, `<name>-dlq` or `<name>-dlq.fifo` for the rest)."""
        sqs = settings.sqs
        return cls(
            name, sqs.visibility_timeout, sqs.max_receive_count, dead_letter_queue_of(name, sqs)
        )

    @classmethod
    def read(cls, queue: Queue, settings: Settings) -> QueueConfig:
        """The queue's own attributes; the settings when the queue cannot be read now."""
        fallback = cls.from_settings(queue.name, settings)
        try:
            attributes = queue.attributes("VisibilityTimeout", "RedrivePolicy")
        except AwsError as exc:
            log.warning("attributes of %s unavailable (%s); using settings", queue.name, exc)
            return fallback
        policy = json.loads(attributes.get("RedrivePolicy") or "null")
        return cls(
            name=queue.name,
            visibility_timeout=int(
                attributes.get("VisibilityTimeout", fallback.visibility_timeout)
            ),
            max_receive_count=int(policy["maxReceiveCount"]) if policy else None,
            dead_letter_queue=(
                str(policy["deadLetterTargetArn"]).rsplit(":", 1)[-1]
                if policy
                else fallback.dead_letter_queue
            ),
        )
