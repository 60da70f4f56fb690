"""GET /topics and POST /topics/{topic}/messages: publish envelopes to SNS topics.

A published message reaches every queue subscribed to the topic whose filter matches it,
with the same body and attributes a direct POST /messages would have given it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError

from producer.deps import CorrelationIdHeader, PublishersDep, TrackerDep, require_json
from producer.publishers import Publisher, TopicPublishers
from producer.schemas import (
    MessageIn,
    Problem,
    TopicInfo,
    TopicList,
    TopicMessageAccepted,
    ValidationProblem,
)
from shared.models import Envelope

router = APIRouter(prefix="/topics", tags=["topics"])

EXAMPLES: dict[str, Any] = {
    "order": {
        "summary": "An order event, routed by its type and attributes",
        "value": {
            "type": "order.created",
            "payload": {"order_id": "A-1001", "amount": 42.5, "region": "eu"},
            "attributes": {"tenant": "acme"},
        },
    },
    "fifo": {
        "summary": "To a FIFO topic: ordered within its group",
        "value": {
            "type": "payment.captured",
            "payload": {"account": "acct-7", "amount": 10},
            "group_id": "acct-7",
        },
    },
}


@router.get("")
def list_topics(publishers: PublishersDep) -> TopicList:
    """The declared topics with their subscribed queues and filters."""
    return TopicList(topics=[TopicInfo.of(topic) for topic in publishers.config.topics])


@router.post(
    "/{topic}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_json)],
    responses={
        400: {"model": Problem, "description": "Malformed JSON"},
        404: {"model": Problem, "description": "No such topic is declared"},
        413: {"model": Problem, "description": "Larger than SNS accepts (256 KiB)"},
        415: {"model": Problem, "description": "Content-Type is not JSON"},
        422: {"model": ValidationProblem, "description": "A field is missing or invalid"},
        503: {"model": Problem, "description": "SNS unavailable; see Retry-After"},
    },
)
async def publish_message(
    topic: str,
    message: Annotated[MessageIn, Body(openapi_examples=EXAMPLES)],
    publishers: PublishersDep,
    tracker: TrackerDep,
    response: Response,
    correlation_id: CorrelationIdHeader = None,
) -> TopicMessageAccepted:
    """Publish one message. 202 means SNS has it; any other answer means it was not published."""
    publisher = _declared(publishers, topic)
    errors = _topic_errors(message, publisher)
    if errors:
        raise RequestValidationError(errors)
    envelope = message.to_envelope(correlation_id)
    outgoing = publisher.topic.outgoing(
        envelope,
        group_id=message.group_id,
        deduplication_id=_deduplication_id(message, publisher, envelope),
    )
    result = await publisher.sender.send(outgoing)
    tracker.accepted(envelope, queue=topic, topic=topic)  # the queues are SNS's choice
    response.headers["X-Correlation-ID"] = envelope.correlation_id
    return TopicMessageAccepted(
        id=envelope.id,
        message_id=result.message_id,
        topic=topic,
        correlation_id=envelope.correlation_id,
    )


def _declared(publishers: TopicPublishers, topic: str) -> Publisher:
    publisher = publishers.get(topic)
    if publisher is None:
        known = ", ".join(publishers.config.names) or "none (TOPICS_FILE declares no topics)"
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown topic {topic!r}; known topics: {known}"
        )
    return publisher


def _deduplication_id(message: MessageIn, publisher: Publisher, envelope: Envelope) -> str | None:
    """The client's id; else, on a FIFO topic without content-based deduplication, the
    envelope id, which SNS requires and which makes each envelope its own message."""
    declaration = publisher.declaration
    if message.deduplication_id or not declaration.fifo:
        return message.deduplication_id
    return None if declaration.content_based_deduplication else str(envelope.id)


def _topic_errors(message: MessageIn, publisher: Publisher) -> list[dict[str, Any]]:
    name = publisher.declaration.name
    errors = message.fifo_errors(fifo=publisher.declaration.fifo, target=f"topic {name!r}")
    if message.delay_seconds:
        errors.append(
            {
                "type": "value_error",
                "loc": ("body", "delay_seconds"),
                "msg": "applies only to POST /messages: SNS has no per-message delay",
                "input": message.delay_seconds,
            }
        )
    return errors
