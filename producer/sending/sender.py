"""How the producer hands one message to a queue or a topic: coalesced into batch calls (the
default), or one batch call of its own each (`PRODUCER_BATCHING=false`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Protocol

from producer.sending.batcher import SendBatcher
from shared.aws import AwsError, BatchSendResult, OutgoingMessage, SendResult
from shared.aws.batching import send_all
from shared.settings import ProducerSettings


class Destination(Protocol):
    """Where messages go: an `SqsQueue` or an `SnsTopic`, which answer the same calls."""

    name: str
    service: str
    """"SQS" or "SNS", for error messages."""

    @property
    def fifo(self) -> bool: ...

    @property
    def known_max_message_size(self) -> int | None: ...

    def max_message_size(self) -> int: ...

    def check_size(self, message: OutgoingMessage) -> None: ...

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult: ...


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...


class DirectSender:
    """Each message in a call of its own: the lowest latency when batching is off."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination

    async def send(self, message: OutgoingMessage) -> SendResult:
        send = partial(send_all, self.destination.send_batch, service=self.destination.service)
        result = (await asyncio.to_thread(send, [message])).get(message.id)
        if isinstance(result, SendResult):
            return result
        raise result or AwsError(f"no result for {message.id}", self.destination.service)

    async def close(self) -> None:
        return None


def make_sender(destination: Destination, settings: ProducerSettings) -> Sender:
    if not settings.batching:
        return DirectSender(destination)
    return SendBatcher(
        partial(send_all, destination.send_batch, service=destination.service),
        service=destination.service,
        size_limit=destination.max_message_size,
        window=settings.batch_window_ms / 1000,
        max_in_flight=settings.send_concurrency,
    )
