"""Request dependencies, as named aliases so routes read plainly and tests can swap them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from shared.settings import Settings
from shared.sqs import SqsQueue

JSON_MEDIA_TYPES = ("application/json",)


def get_queue(request: Request) -> SqsQueue:
    queue: SqsQueue = request.app.state.queue
    return queue


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require_json(content_type: Annotated[str | None, Header()] = None) -> None:
    """Refuse bodies that are not JSON with 415, before anything tries to parse them."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Content-Type must be application/json, got {content_type or 'none'!r}",
        )


QueueDep = Annotated[SqsQueue, Depends(get_queue)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
CorrelationIdHeader = Annotated[
    str | None, Header(alias="X-Correlation-ID", min_length=1, max_length=256)
]
