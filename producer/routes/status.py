"""GET /messages/{id}: where a message is now, as far as this producer has heard."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, status

from producer.deps import StatusStoreDep
from producer.schemas import Problem, ValidationProblem
from producer.tracking.store import MessageStatus

router = APIRouter(tags=["messages"])


@router.get(
    "/messages/{message_id}",
    responses={
        404: {"model": Problem, "description": "Not seen, or forgotten to make room"},
        422: {"model": ValidationProblem, "description": "Not a message id (a UUID)"},
    },
)
def get_message_status(message_id: UUID, store: StatusStoreDep) -> MessageStatus:
    """The furthest stage the message reached, and every stage reported, in time order.

    Status is kept in this producer's memory for its most recent messages, fed by the
    consumers' events; a restart or another replica starts without it.
    """
    found = store.get(message_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no status for message {message_id}: this producer has not seen it, "
            f"or it was among the oldest beyond the {store.capacity} it remembers",
        )
    return found
