"""Request dependencies, as named aliases so routes read plainly and tests can swap them.

Each is `async def` although none awaits anything: FastAPI runs a plain `def` dependency on
its thread pool, and a request would hop threads (and back) once per dependency for what is
an attribute read. A check here must never block: it runs on the event loop."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.requests import HTTPConnection
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from producer.security.access import Access, Refusal
from producer.sending.publishers import TopicPublishers
from producer.sending.targets import Target
from producer.tracking.feed import FeedHub
from producer.tracking.tracker import Tracker, Tracking
from shared.aws import SqsQueue
from shared.messages.envelope import CorrelationId
from shared.settings import Settings

ADMIN_DISABLED = "admin endpoints are disabled; set PRODUCER_ADMIN_TOKEN"

_bearer = HTTPBearer(auto_error=False, description="PRODUCER_ADMIN_TOKEN")
_api_key_bearer = HTTPBearer(
    auto_error=False, scheme_name="ApiKeyBearer", description="One of PRODUCER_API_KEYS"
)
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="One of PRODUCER_API_KEYS"
)


async def get_queue(request: Request) -> SqsQueue:
    queue: SqsQueue = request.app.state.queue
    return queue


async def get_queue_target(request: Request) -> Target:
    """The queue `POST /messages` sends to, with its sender."""
    target: Target = request.app.state.queue_target
    return target


async def get_publishers(request: Request) -> TopicPublishers:
    publishers: TopicPublishers = request.app.state.publishers
    return publishers


async def get_tracking(connection: HTTPConnection) -> Tracking:
    """From a request or a WebSocket alike: the feed is served over both."""
    tracking: Tracking = connection.app.state.tracking
    return tracking


async def get_tracker(connection: HTTPConnection) -> Tracker:
    tracking: Tracking = connection.app.state.tracking
    return tracking.tracker


async def get_hub(connection: HTTPConnection) -> FeedHub:
    tracking: Tracking = connection.app.state.tracking
    return tracking.hub


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_access(connection: HTTPConnection) -> Access:
    access: Access = connection.app.state.access
    return access


async def admitted(
    request: Request,
    _bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(_api_key_bearer)],
    _header_key: Annotated[str | None, Depends(_api_key_header)],
) -> str:
    """The caller's name, once its key, origin and rate pass; else the 4xx that says why.

    The two security schemes are parameters only so that the OpenAPI schema shows them;
    `Access` reads the headers itself, as it must for the WebSocket too.
    """
    access: Access = request.app.state.access
    caller = access.admit(request)
    if isinstance(caller, Refusal):
        raise HTTPException(caller.status, detail=caller.detail, headers=caller.headers or None)
    return caller


async def rate_limited(request: Request) -> str:
    """For an open API: the origin and the rate per client address, no key asked."""
    return await admitted(request, None, None)


async def require_admin(
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
TrackingDep = Annotated[Tracking, Depends(get_tracking)]
CorrelationIdHeader = Annotated[CorrelationId | None, Header(alias="X-Correlation-ID")]
AccessDep = Annotated[Access, Depends(get_access)]
RequireApiKey = Depends(admitted)
"""For routers when PRODUCER_API_KEYS is set: the key, the origin, the rate."""
RateLimited = Depends(rate_limited)
"""For routers when the API is open: the origin and the rate per client address."""
