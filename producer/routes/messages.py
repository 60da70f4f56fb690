"""POST /messages and /messages/batch: validate, wrap in envelopes, store in SQS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError

from producer.deps import CorrelationIdHeader, QueueTargetDep, SettingsDep, TrackerDep
from producer.direct_route import DirectRoute
from producer.schemas import (
    BatchAccepted,
    BatchIn,
    BatchItem,
    MessageAccepted,
    MessageIn,
    Problem,
    ValidationProblem,
)
from producer.sending.targets import Sent, Target
from producer.tracking.tracker import Tracker
from shared import log_context
from shared.aws import (
    AwsRequestError,
    MessageTooLargeError,
    SendResult,
)
from shared.messages.envelope import Envelope

router = APIRouter(tags=["messages"], route_class=DirectRoute)

STATUS_LINK: dict[str, Any] = {
    "GetMessageStatus": {
        "operationId": "get_message_status",
        "parameters": {"id": "$response.body#/id"},
        "description": "How far the message got, by the `id` this answer gives.",
    }
}

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
    responses={
        202: {"links": STATUS_LINK},
        400: {"model": Problem, "description": "Malformed JSON"},
        413: {"model": Problem, "description": "Larger than the queue's MaximumMessageSize"},
        415: {"model": Problem, "description": "Content-Type is not JSON"},
        422: {"model": ValidationProblem, "description": "A field is missing or invalid"},
        503: {"model": Problem, "description": "SQS unavailable; see Retry-After"},
    },
)
async def send_message(
    message: Annotated[MessageIn, Body(openapi_examples=EXAMPLES)],
    queue: QueueTargetDep,
    tracker: TrackerDep,
    response: Response,
    correlation_id: CorrelationIdHeader = None,
) -> MessageAccepted:
    """Enqueue one message. 202 means SQS has stored it; any other answer means it was not."""
    envelope, result = await send_one(queue, message, tracker, response, correlation_id)
    return MessageAccepted(
        id=envelope.id, message_id=result.message_id, correlation_id=envelope.correlation_id
    )


@router.post(
    "/messages/batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        207: {"model": BatchAccepted, "description": "Some stored, some not: see each result"},
        400: {"model": Problem, "description": "Malformed JSON"},
        413: {
            "model": Problem | BatchAccepted,
            "description": "More messages than PRODUCER_MAX_BATCH_MESSAGES, a body over "
            "PRODUCER_MAX_BODY_BYTES, or every message larger than the queue accepts",
        },
        415: {"model": Problem, "description": "Content-Type is not JSON"},
        422: {"model": ValidationProblem, "description": "A message is invalid (named by index)"},
        502: {"model": BatchAccepted, "description": "SQS refused every message"},
        503: {"model": BatchAccepted, "description": "SQS unavailable, none stored"},
    },
)
async def send_messages(
    batch: BatchIn,
    queue: QueueTargetDep,
    settings: SettingsDep,
    tracker: TrackerDep,
    response: Response,
    correlation_id: CorrelationIdHeader = None,
) -> BatchAccepted:
    """Enqueue several messages in as few SQS calls as the limits allow, each with its result.

    202: all stored. 207: some were not; each result says why. None stored: the status they
    share (413 all too large, 502 all refused, 503 SQS unavailable, see Retry-After), or the
    gravest of theirs.
    """
    limit = settings.producer.max_batch_messages
    if len(batch.messages) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"at most {limit} messages per batch request"
        )
    refuse(
        [
            problem
            for index, given in enumerate(batch.messages)
            for problem in queue.problems(given, loc=("body", "messages", index))
        ]
    )
    log_context.add(correlation_id=correlation_id, queue=queue.name)
    sent = await queue.send_many(batch.messages, correlation_id)
    items = [_item(index, fate) for index, fate in enumerate(sent)]
    for item, (envelope, _) in zip(items, sent, strict=True):
        if item.status == status.HTTP_202_ACCEPTED:
            tracker.accepted(envelope, queue.name)
    accepted = sum(item.status == status.HTTP_202_ACCEPTED for item in items)
    response.status_code = _batch_status([item.status for item in items])
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response.headers["Retry-After"] = str(settings.producer.retry_after_seconds)
    return BatchAccepted(accepted=accepted, failed=len(items) - accepted, results=items)


def _batch_status(statuses: list[int]) -> int:
    """202 all stored, 207 some; none stored: the gravest status, 503 first (worth a retry)."""
    if all(code == status.HTTP_202_ACCEPTED for code in statuses):
        return status.HTTP_202_ACCEPTED
    if status.HTTP_202_ACCEPTED in statuses:
        return status.HTTP_207_MULTI_STATUS
    return max(statuses)


async def send_one(
    target: Target,
    message: MessageIn,
    tracker: Tracker,
    response: Response,
    correlation_id: str | None,
    *,
    topic: str | None = None,
) -> tuple[Envelope, SendResult]:
    """Refuse what the target refuses, send, record `accepted`: one message, one POST."""
    refuse(target.problems(message))
    envelope = message.to_envelope(correlation_id)
    result = await target.send(message, envelope)
    tracker.accepted(envelope, target.name, topic)  # for a topic, the queues are SNS's choice
    log_context.add(
        envelope_id=str(envelope.id),
        message_id=result.message_id,
        correlation_id=envelope.correlation_id,
        queue=None if topic else target.name,
    )
    response.headers["X-Correlation-ID"] = envelope.correlation_id
    return envelope, result


def refuse(problems: list[dict[str, Any]]) -> None:
    """A 422 naming every problem, when there are any."""
    if problems:
        raise RequestValidationError(problems)


def _item(index: int, sent: Sent) -> BatchItem:
    envelope, fate = sent
    if isinstance(fate, SendResult):
        return BatchItem(index=index, status=202, id=envelope.id, message_id=fate.message_id)
    if isinstance(fate, MessageTooLargeError):
        return BatchItem(index=index, status=413, id=envelope.id, detail=str(fate))
    if isinstance(fate, AwsRequestError):
        return BatchItem(
            index=index, status=502, id=envelope.id, detail=f"{fate.service} refused it: {fate}"
        )
    return BatchItem(index=index, status=503, id=envelope.id, detail=f"not stored: {fate}")
