"""Request dependencies, as named aliases so routes read plainly and tests can swap them."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.requests import HTTPConnection
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from producer.sending.publishers import TopicPublishers
from producer.sending.targets import Target
from producer.tracking.feed import FeedHub
from producer.tracking.store import StatusStore
from producer.tracking.tracker import Tracker, Tracking
from shared.aws import SqsQueue
from shared.settings import Settings

JSON_MEDIA_TYPES = ("application/json",)
ADMIN_DISABLED = "admin endpoints are disabled; set PRODUCER_ADMIN_TOKEN"

_bearer = HTTPBearer(auto_error=False, description="PRODUCER_ADMIN_TOKEN")


def get_queue(request: Request) -> SqsQueue:
    queue: SqsQueue = request.app.state.queue
    return queue


def get_queue_target(request: Request) -> Target:
    """The queue `POST /messages` sends to, with its sender."""
    target: Target = request.app.state.queue_target
    return target


def get_publishers(request: Request) -> TopicPublishers:
    publishers: TopicPublishers = request.app.state.publishers
    return publishers


def get_tracking(connection: HTTPConnection) -> Tracking:
    """From a request or a WebSocket alike: the feed is served over both."""
    tracking: Tracking = connection.app.state.tracking
    return tracking


def get_tracker(connection: HTTPConnection) -> Tracker:
    return get_tracking(connection).tracker


def get_hub(connection: HTTPConnection) -> FeedHub:
    return get_tracking(connection).hub


def get_status_store(connection: HTTPConnection) -> StatusStore:
    return get_tracking(connection).store


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


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """403 while no admin token is configured; else 401 unless the bearer token matches."""
    settings: Settings = request.app.state.settings
    expected = settings.producer.admin_token
    if expected is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=ADMIN_DISABLED)
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid admin bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


RequireAdmin = Depends(require_admin)
"""For `dependencies=[RequireAdmin]` on admin routers."""

QueueDep = Annotated[SqsQueue, Depends(get_queue)]
QueueTargetDep = Annotated[Target, Depends(get_queue_target)]
PublishersDep = Annotated[TopicPublishers, Depends(get_publishers)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
TrackerDep = Annotated[Tracker, Depends(get_tracker)]
HubDep = Annotated[FeedHub, Depends(get_hub)]
StatusStoreDep = Annotated[StatusStore, Depends(get_status_store)]
CorrelationIdHeader = Annotated[
    str | None, Header(alias="X-Correlation-ID", min_length=1, max_length=256)
]
