"""GET /topics and POST /topics/{topic}/messages: publish envelopes to SNS topics.

A published message reaches every queue subscribed to the topic whose filter matches it,
with the same body and attributes a direct POST /messages would have given it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response, status

from producer.deps import CorrelationIdHeader, PublishersDep, TrackerDep
from producer.request_body import StrictJsonRoute
from producer.routes.messages import send_one
from producer.schemas import (
    MessageIn,
    Problem,
    TopicInfo,
    TopicList,
    TopicMessageAccepted,
    ValidationProblem,
)
from producer.sending.publishers import TopicPublishers
from producer.sending.targets import Target

router = APIRouter(prefix="/topics", tags=["topics"], route_class=StrictJsonRoute)

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
    target = _declared(publishers, topic)
    envelope, result = await send_one(
        target, message, tracker, response, correlation_id, topic=topic
    )
    return TopicMessageAccepted(
        id=envelope.id,
        message_id=result.message_id,
        topic=topic,
        correlation_id=envelope.correlation_id,
    )


SHOWN_NAME_CHARS = 100
"""An unknown topic's name is echoed this far: a 60,000-character name is no 60 KB answer."""


def _declared(publishers: TopicPublishers, topic: str) -> Target:
    target = publishers.get(topic)
    if target is None:
        known = ", ".join(publishers.config.names) or "none (TOPICS_FILE declares no topics)"
        shown = topic if len(topic) <= SHOWN_NAME_CHARS else topic[: SHOWN_NAME_CHARS - 1] + "…"
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown topic {shown!r}; known topics: {known}"
        )
    return target
