"""Operator endpoints for the dead-letter queue: look, redrive, purge.

Protected by a bearer token (`PRODUCER_ADMIN_TOKEN`) and disabled without one. SQS
failures are answered here rather than by the message handlers, whose wording
("message not stored") would mislead an operator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from producer.deps import QueueDep, RequireAdmin, SettingsDep
from producer.request_body import StrictJsonRoute
from producer.schemas import JsonInt, Problem
from shared.aws import AwsError, AwsRequestError
from shared.messages.dead_letter import DeadLetter
from shared.ops.dead_letters import DeadLetters
from shared.ops.redrive import RedriveResult

REDRIVE_TIME_LIMIT = 20.0
"""Seconds one request may spend moving messages; `stopped` says when to call again."""

router = APIRouter(
    prefix="/admin",
    route_class=StrictJsonRoute,
    tags=["admin"],
    dependencies=[RequireAdmin],
    responses={
        400: {"model": Problem, "description": "Malformed JSON"},
        401: {"model": Problem, "description": "Missing or wrong bearer token"},
        403: {"model": Problem, "description": "Admin endpoints disabled (no token configured)"},
        502: {"model": Problem, "description": "SQS refused the request"},
        503: {"model": Problem, "description": "SQS unavailable; see Retry-After"},
    },
)


class DeadLetterList(BaseModel):
    """The dead-letter queue's approximate depth and a sample of its messages."""

    queue: str
    count: int = Field(description="Messages waiting (ApproximateNumberOfMessages).")
    in_flight: int = Field(description="Messages received and not yet deleted or released.")
    messages: list[DeadLetter]


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    max_messages: JsonInt | None = Field(
        default=None, ge=1, description="Move at most this many (uses the move loop)."
    )
    native: bool = Field(default=True, description="Try SQS's StartMessageMoveTask first.")


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    confirm: str = Field(description="The dead-letter queue's name, to prove intent.")


class Purged(BaseModel):
    purged: bool
    queue: str


def get_dead_letters(request: Request, queue: QueueDep, settings: SettingsDep) -> DeadLetters:
    """Built on first use over the producer's own client, then kept on the app."""
    dead_letters: DeadLetters | None = getattr(request.app.state, "dead_letters", None)
    if dead_letters is None:
        dead_letters = DeadLetters.from_settings(settings, client=queue.client)
        request.app.state.dead_letters = dead_letters
    return dead_letters


DeadLettersDep = Annotated[DeadLetters, Depends(get_dead_letters)]


@contextmanager
def sqs_answers(dead_letters: DeadLetters, retry_after: int) -> Iterator[None]:
    """SqsErrors as HTTP answers: 409 purge already running, 502 refused, else 503."""
    try:
        yield
    except AwsRequestError as exc:
        code = (
            status.HTTP_409_CONFLICT
            if exc.code.endswith("PurgeQueueInProgress")
            else status.HTTP_502_BAD_GATEWAY
        )
        raise HTTPException(code, detail=f"{dead_letters.name}: {exc}") from exc
    except AwsError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"{dead_letters.name}: {exc}",
            headers={"Retry-After": str(retry_after)},
        ) from exc


@router.get("/dlq")
def list_dead_letters(
    dead_letters: DeadLettersDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many messages.")] = 10,
) -> DeadLetterList:
    """Count the dead letters and show up to `limit` of them, leaving them in the queue."""
    with sqs_answers(dead_letters, settings.producer.retry_after_seconds):
        depth = dead_letters.depth()
        messages = dead_letters.peek(limit)
    return DeadLetterList(
        queue=dead_letters.name, count=depth.visible, in_flight=depth.in_flight, messages=messages
    )


@router.post("/dlq/redrive")
def redrive_dead_letters(
    dead_letters: DeadLettersDep,
    settings: SettingsDep,
    body: Annotated[RedriveRequest | None, Body()] = None,
) -> RedriveResult:
    """Send dead letters back to the source queue; only sent messages leave the DLQ."""
    options = body or RedriveRequest()
    with sqs_answers(dead_letters, settings.producer.retry_after_seconds):
        return dead_letters.redrive(
            options.max_messages, native=options.native, time_limit=REDRIVE_TIME_LIMIT
        )


@router.post(
    "/dlq/purge",
    responses={
        409: {
            "model": Problem,
            "description": "`confirm` is not the DLQ's name, or a purge ran less than a minute ago",
        },
    },
)
def purge_dead_letters(
    body: PurgeRequest, dead_letters: DeadLettersDep, settings: SettingsDep
) -> Purged:
    """Delete every dead letter. The source queue is not touched."""
    if body.confirm != dead_letters.name:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"confirm must be the dead-letter queue's name, {dead_letters.name!r}; "
            "nothing purged",
        )
    with sqs_answers(dead_letters, settings.producer.retry_after_seconds):
        dead_letters.purge()
    return Purged(purged=True, queue=dead_letters.name)
