"""POST /messages and /messages/batch: validate, wrap in envelopes, store in SQS."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError

from producer.deps import (
    CorrelationIdHeader,
    QueueDep,
    SenderDep,
    SettingsDep,
    TrackerDep,
    require_json,
)
from producer.schemas import (
    BatchAccepted,
    BatchIn,
    BatchItem,
    MessageAccepted,
    MessageIn,
    Problem,
    ValidationProblem,
)
from producer.sender import prepare
from shared.batching import send_all
from shared.errors import MessageTooLargeError, SqsError, SqsRequestError
from shared.models import Envelope
from shared.sqs import OutgoingMessage, SendResult, SqsQueue

router = APIRouter(tags=["messages"])

EXAMPLES: dict[str, Any] = {
    "order": {
        "summary": "An order event",
        "value": {"type": "order.created", "payload": {"order_id": "A-1001", "amount": 42.5}},
    },
    "delayed": {
        "summary": "Delivered after 30 seconds, with an attribute",
        "value": {
            "type": "email.send",
            "payload": {"to": "ops@example.com", "subject": "Report ready"},
            "attributes": {"tenant": "acme"},
            "delay_seconds": 30,
        },
    },
}


@router.post(
    "/messages",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_json)],
    responses={
        400: {"model": Problem, "description": "Malformed JSON"},
        413: {"model": Problem, "description": "Larger than the queue's MaximumMessageSize"},
        415: {"model": Problem, "description": "Content-Type is not JSON"},
        422: {"model": ValidationProblem, "description": "A field is missing or invalid"},
        503: {"model": Problem, "description": "SQS unavailable; see Retry-After"},
    },
)
async def send_message(
    message: Annotated[MessageIn, Body(openapi_examples=EXAMPLES)],
    queue: QueueDep,
    sender: SenderDep,
    tracker: TrackerDep,
    response: Response,
    correlation_id: CorrelationIdHeader = None,
) -> MessageAccepted:
    """Enqueue one message. 202 means SQS has stored it; any other answer means it was not."""
    fifo_errors = message.fifo_errors(fifo=_is_fifo(queue), target=f"queue {queue.name!r}")
    if fifo_errors:
        raise RequestValidationError(fifo_errors)
    envelope = message.to_envelope(correlation_id)
    outgoing = await prepare(
        queue,
        envelope,
        message.delay_seconds,
        group_id=message.group_id,
        deduplication_id=message.deduplication_id,
    )
    result = await sender.send(outgoing)
    tracker.accepted(envelope, queue.name)
    response.headers["X-Correlation-ID"] = envelope.correlation_id
    return MessageAccepted(
        id=envelope.id, message_id=result.message_id, correlation_id=envelope.correlation_id
    )


@router.post(
    "/messages/batch",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_json)],
    responses={
        207: {"model": BatchAccepted, "description": "Some stored, some not: see each result"},
        400: {"model": Problem, "description": "Malformed JSON"},
        415: {"model": Problem, "description": "Content-Type is not JSON"},
        422: {"model": ValidationProblem, "description": "A message is invalid (named by index)"},
        503: {"model": BatchAccepted, "description": "SQS unavailable, none stored"},
    },
)
async def send_messages(
    batch: BatchIn,
    queue: QueueDep,
    settings: SettingsDep,
    tracker: TrackerDep,
    response: Response,
    correlation_id: CorrelationIdHeader = None,
) -> BatchAccepted:
    """Enqueue several messages in as few SQS calls as the limits allow, each with its result.

    202: all stored. 207: some were not; each result says why. 503: SQS unavailable, none
    stored (see Retry-After).
    """
    limit = settings.producer.max_batch_messages
    if len(batch.messages) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"at most {limit} messages per batch request"
        )
    fifo_errors = [
        error
        for index, given in enumerate(batch.messages)
        for error in given.fifo_errors(
            fifo=_is_fifo(queue), target=f"queue {queue.name!r}", loc=("body", "messages", index)
        )
    ]
    if fifo_errors:
        raise RequestValidationError(fifo_errors)
    envelopes = [m.to_envelope(correlation_id) for m in batch.messages]
    max_size = await asyncio.to_thread(queue.max_message_size)
    items: dict[int, BatchItem] = {}
    outgoing: dict[int, OutgoingMessage] = {}
    for index, (envelope, given) in enumerate(zip(envelopes, batch.messages, strict=True)):
        try:
            outgoing[index] = queue.outgoing(
                envelope,
                given.delay_seconds,
                group_id=given.group_id,
                deduplication_id=given.deduplication_id,
            )
        except MessageTooLargeError as exc:
            items[index] = BatchItem(index=index, status=413, id=envelope.id, detail=str(exc))
    results = await asyncio.to_thread(
        partial(send_all, queue.send_raw_batch, list(outgoing.values()), max_batch_bytes=max_size)
    )
    for index, entry in outgoing.items():
        items[index] = _item(index, envelopes[index], results.get(entry.id))
    ordered = [items[index] for index in range(len(envelopes))]
    for item, envelope in zip(ordered, envelopes, strict=True):
        if item.status == status.HTTP_202_ACCEPTED:
            tracker.accepted(envelope, queue.name)
    accepted = sum(item.status == status.HTTP_202_ACCEPTED for item in ordered)
    if accepted < len(ordered):
        response.status_code = status.HTTP_207_MULTI_STATUS
    if accepted == 0 and all(item.status == 503 for item in ordered):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(settings.producer.retry_after_seconds)
    return BatchAccepted(accepted=accepted, failed=len(ordered) - accepted, results=ordered)


def _is_fifo(queue: SqsQueue) -> bool:
    return queue.is_fifo


def _item(index: int, envelope: Envelope, result: SendResult | SqsError | None) -> BatchItem:
    if isinstance(result, SendResult):
        return BatchItem(index=index, status=202, id=envelope.id, message_id=result.message_id)
    if isinstance(result, SqsRequestError):
        return BatchItem(
            index=index, status=502, id=envelope.id, detail=f"SQS refused it: {result}"
        )
    return BatchItem(index=index, status=503, id=envelope.id, detail=f"not stored: {result}")
