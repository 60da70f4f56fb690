"""GET /messages/{id}: where a message is now, as far as this producer has heard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from starlette.convertors import Convertor, register_url_convertor
from typing_extensions import override

from producer.deps import StatusStoreDep
from producer.request_body import StrictJsonRoute
from producer.schemas import Problem, ValidationProblem
from producer.tracking.store import MessageStatus
from shared.messages.envelope import EnvelopeId

router = APIRouter(tags=["messages"], route_class=StrictJsonRoute)


class EnvelopeIdConvertor(Convertor[str]):
    """Anything but `batch` (the batch route's 405): ids other systems chose may hold `/`."""

    regex = r"(?!batch$).+"

    @override
    def convert(self, value: str) -> str:
        return value

    @override
    def to_string(self, value: str) -> str:
        return value


register_url_convertor("envelope_id", EnvelopeIdConvertor())


@router.get(
    "/messages/{id:envelope_id}",
    operation_id="get_message_status",
    responses={
        404: {"model": Problem, "description": "Not seen, or forgotten to make room"},
        422: {
            "model": ValidationProblem,
            "description": "Not a message id (printable ASCII, at most 256 characters)",
        },
    },
)
def get_message_status(
    id: Annotated[
        EnvelopeId,
        Path(description="The envelope `id`: the one the 202 answer gave, or a sender's own."),
    ],
    store: StatusStoreDep,
) -> MessageStatus:
    """The furthest stage the message reached, and every stage reported, in time order.

    Status is kept in this producer's memory for its most recent messages, fed by the
    consumers' events; a restart or another replica starts without it.
    """
    found = store.get(id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no status for message {id}: this producer has not seen it, "
            f"or it was among the oldest beyond the {store.capacity} it remembers",
        )
    return found
