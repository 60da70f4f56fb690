"""POST /messages: validate, wrap in an envelope, store in SQS, answer 202."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response, status

from producer.deps import CorrelationIdHeader, QueueDep, require_json
from producer.schemas import MessageAccepted, MessageIn, Problem, ValidationProblem

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
def send_message(
    message: Annotated[MessageIn, Body(openapi_examples=EXAMPLES)],
    queue: QueueDep,
    response: Response,
    correlation_id: CorrelationIdHeader = None,
) -> MessageAccepted:
    """Enqueue one message. 202 means SQS has stored it; any other answer means it was not."""
    envelope = message.to_envelope(correlation_id)
    result = queue.send(envelope, delay_seconds=message.delay_seconds)
    response.headers["X-Correlation-ID"] = envelope.correlation_id
    return MessageAccepted(
        id=envelope.id, message_id=result.message_id, correlation_id=envelope.correlation_id
    )
