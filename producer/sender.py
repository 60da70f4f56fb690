"""How the producer hands messages to SQS: batched (the default) or one call per message."""

from __future__ import annotations

import asyncio
from typing import Protocol

from producer.batcher import SendBatcher
from shared.models import Envelope
from shared.settings import ProducerSettings
from shared.sqs import OutgoingMessage, SendResult, SqsQueue


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...


class DirectSender:
    """One SendMessage per message: the lowest latency when batching is switched off."""

    def __init__(self, queue: SqsQueue) -> None:
        self.queue = queue

    async def send(self, message: OutgoingMessage) -> SendResult:
        return await asyncio.to_thread(self.queue.send_one, message)

    async def close(self) -> None:
        return None


def make_sender(queue: SqsQueue, settings: ProducerSettings) -> Sender:
    if not settings.batching:
        return DirectSender(queue)
    return SendBatcher(
        queue, window=settings.batch_window_ms / 1000, max_in_flight=settings.send_concurrency
    )


async def prepare(queue: SqsQueue, envelope: Envelope, delay_seconds: int) -> OutgoingMessage:
    """The envelope as a batch entry, checked against the queue's size limit (read once)."""
    if queue.known_max_message_size is None:
        await asyncio.to_thread(queue.max_message_size)
    return queue.outgoing(envelope, delay_seconds)
