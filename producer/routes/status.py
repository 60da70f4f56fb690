"""GET /messages/{id}: where a message is now, as far as this producer has heard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from starlette.convertors import Convertor, register_url_convertor
from typing_extensions import override

from producer.deps import SettingsDep, TrackingDep
from producer.request_body import StrictJsonRoute
from producer.schemas import Problem, ValidationProblem
from producer.tracking.store import MessageStatus
from shared.aws import AwsError
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
        503: {"model": Problem, "description": "The shared status table cannot be read"},
        422: {
            "model": ValidationProblem,
            "description": "Not a message id (printable ASCII, at most 256 characters)",
        },
    },
)
async def get_message_status(
    id: Annotated[
        EnvelopeId,
        Path(description="The envelope `id`: the one the 202 answer gave, or a sender's own."),
    ],
    tracking: TrackingDep,
    settings: SettingsDep,
) -> MessageStatus:
    """The furthest stage the message reached, and every stage reported, in causal order.

    With `PRODUCER_STATUS_STORE=dynamodb` every replica gives the same answer, before and
    after restarts; with `memory` (the default) status lives in this producer's memory for
    its most recent messages, and a restart or another replica starts without it.
    """
    try:
        found = await tracking.status(id)
    except AwsError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"status unavailable: {exc}",
            headers={"Retry-After": str(settings.producer.retry_after_seconds)},
        ) from exc
    if found is not None:
        return found
    if tracking.table is not None:
        detail = (
            f"no status for message {id}: no producer has recorded it, or it expired "
            f"{settings.producer.status_ttl_seconds}s after its last event"
        )
    else:
        detail = (
            f"no status for message {id}: this producer has not seen it, or it was among "
            f"the oldest beyond the {tracking.store.capacity} it remembers"
        )
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail)
