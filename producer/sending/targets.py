"""Where a POST sends its message: the queue, or one declared topic, and what each refuses.

A target turns a request's message into an envelope and the envelope into a message its
destination accepts (FIFO fields, deduplication, the size limit), then sends it. Routes
only validate, call it, and answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from opentelemetry.trace import SpanKind

from producer.schemas import MessageIn
from producer.sending.sender import Destination, Sender
from shared import tracing
from shared.aws import AwsError, MessageTooLargeError, OutgoingMessage, SendResult
from shared.aws.batching import send_all
from shared.messages.envelope import Envelope

FIFO_FIELDS = ("group_id", "deduplication_id")
Loc = tuple[str | int, ...]
Sent = tuple[Envelope, SendResult | AwsError]
"""One message of a batch request: its envelope, and where it went or why it did not."""


@dataclass(frozen=True)
class Target:
    destination: Destination
    sender: Sender
    content_based_deduplication: bool = False
    delays: bool = True
    """SNS has no per-message delay: a topic refuses `delay_seconds`."""

    @property
    def name(self) -> str:
        return self.destination.name

    @property
    def described(self) -> str:
        kind = "queue" if self.delays else "topic"
        return f"{kind} {self.name!r}"

    def problems(self, message: MessageIn, loc: Loc = ("body",)) -> list[dict[str, Any]]:
        """What this destination refuses of `message`, as FastAPI's validation errors."""
        problems = self._fifo_problems(message, loc)
        if not self.delays and message.delay_seconds:
            why = "applies only to POST /messages: SNS has no per-message delay"
            problems.append(_error((*loc, "delay_seconds"), why, message.delay_seconds))
        return problems

    def _fifo_problems(self, message: MessageIn, loc: Loc) -> list[dict[str, Any]]:
        """FIFO fields are required by FIFO destinations and meaningless to the others."""
        fifo, target = self.destination.fifo, self.described
        if fifo and message.group_id is None:
            return [_error((*loc, "group_id"), f"required: {target} is FIFO", None)]
        if fifo and message.delay_seconds:
            why = f"FIFO destinations take no per-message delay; {target} is FIFO"
            return [_error((*loc, "delay_seconds"), why, message.delay_seconds)]
        if fifo:
            return []
        why = f"applies only to FIFO destinations (names ending .fifo); {target} is not FIFO"
        return [
            _error((*loc, name), why, getattr(message, name))
            for name in FIFO_FIELDS
            if getattr(message, name) is not None
        ]

    async def send(self, message: MessageIn, envelope: Envelope) -> SendResult:
        """Send one message, batched with others by the sender; raises what kept it out.

        Its span (`send <destination>`) is the request's child and the consumer's parent."""
        with tracing.span(
            f"send {self.name}",
            SpanKind.PRODUCER,
            attributes=self._span_attributes("send"),
        ) as span:
            result = await self.sender.send(await self.prepare(message, envelope))
            span.set_attribute("messaging.message.id", result.message_id)
            return result

    async def send_many(
        self, messages: Sequence[MessageIn], correlation_id: str | None
    ) -> list[Sent]:
        """Send several in as few batch calls as the limits allow, each with its own fate."""
        envelopes = [m.to_envelope(correlation_id) for m in messages]
        limit = await asyncio.to_thread(self.destination.max_message_size)
        fates: dict[str, SendResult | AwsError] = {}
        ready: list[OutgoingMessage] = []
        for message, envelope in zip(messages, envelopes, strict=True):
            # Each message its own span, the parent of its consumer's; one call sends them.
            with tracing.span(
                f"create {self.name}", SpanKind.PRODUCER, attributes=self._span_attributes("create")
            ):
                try:
                    ready.append(await self.prepare(message, envelope))
                except MessageTooLargeError as exc:
                    fates[str(envelope.id)] = exc
        send = partial(send_all, self.destination.send_batch, service=self.destination.service)
        fates |= await asyncio.to_thread(send, ready, max_batch_bytes=limit)
        return [(envelope, fates[str(envelope.id)]) for envelope in envelopes]

    async def prepare(self, message: MessageIn, envelope: Envelope) -> OutgoingMessage:
        """The envelope as its destination takes it; raises `MessageTooLargeError`."""
        fifo = self.destination.fifo
        deduplication = message.deduplication_id
        if fifo and deduplication is None and not self.content_based_deduplication:
            deduplication = str(envelope.id)  # each envelope its own message
        outgoing = envelope.outgoing(
            delay_seconds=message.delay_seconds,
            group_id=message.group_id,
            deduplication_id=deduplication if fifo else None,
            trace=tracing.outgoing(),
        )
        if self.destination.known_max_message_size is None:
            await asyncio.to_thread(self.destination.max_message_size)
        self.destination.check_size(outgoing)
        return outgoing

    def _span_attributes(self, operation: str) -> dict[str, Any]:
        system = "aws_sns" if self.destination.service == "sns" else tracing.MESSAGING_SYSTEM
        return tracing.messaging_attributes(operation, self.name) | {"messaging.system": system}


def _error(loc: Loc, message: str, given: object) -> dict[str, Any]:
    """One error in the shape FastAPI's own validation errors have."""
    return {"type": "value_error", "loc": loc, "msg": message, "input": given}
