"""How the producer hands messages to a queue or a topic: batched (the default) or one call each."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Protocol

from producer.batcher import SendBatcher
from shared.batching import send_all
from shared.models import Envelope
from shared.settings import ProducerSettings
from shared.sqs import BatchSendResult, OutgoingMessage, SendResult, SqsQueue


class Destination(Protocol):
    """Where messages go: an `SqsQueue` or an `SnsTopic`, which answer the same calls."""

    service: str
    """"SQS" or "SNS", for error messages."""

    def send_one(self, message: OutgoingMessage) -> SendResult: ...

    def send_raw_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult: ...

    def max_message_size(self) -> int: ...


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...


class DirectSender:
    """One SendMessage (or Publish) per message: the lowest latency when batching is off."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination

    async def send(self, message: OutgoingMessage) -> SendResult:
        return await asyncio.to_thread(self.destination.send_one, message)

    async def close(self) -> None:
        return None


def make_sender(destination: Destination, settings: ProducerSettings) -> Sender:
    if not settings.batching:
        return DirectSender(destination)
    return SendBatcher(
        partial(send_all, destination.send_raw_batch, service=destination.service),
        size_limit=destination.max_message_size,
        window=settings.batch_window_ms / 1000,
        max_in_flight=settings.send_concurrency,
    )


async def prepare(
    queue: SqsQueue,
    envelope: Envelope,
    delay_seconds: int,
    *,
    group_id: str | None = None,
    deduplication_id: str | None = None,
) -> OutgoingMessage:
    """The envelope as a batch entry, checked against the queue's size limit (read once)."""
    if queue.known_max_message_size is None:
        await asyncio.to_thread(queue.max_message_size)
    return queue.outgoing(
        envelope, delay_seconds, group_id=group_id, deduplication_id=deduplication_id
    )
