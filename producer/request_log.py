"""One log line per HTTP request: method, route, status and duration, when it ends; and the
same duration in the `producer_http_request_duration_seconds` histogram, by route and status.

The line names the route's template (`/messages/{message_id}`), not the path a client wrote,
so lines group by route and no client text reaches the log through it. It carries what the
request bound while it ran (`shared.log_context`): a POST's correlation id and its message's
ids. WebSocket connections are not requests: the feed logs its own.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import log_context

log = logging.getLogger("producer.requests")

REQUEST_SECONDS = Histogram(
    "producer_http_request_duration_seconds",
    "HTTP requests by method, route template and status, from the first byte in to the last out.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

UNMATCHED = "(no route)"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods the histogram names; any other a client invents is `other`, so no client can add
label values without end."""


class RequestLog:
    """ASGI middleware, outermost: it times what every other layer does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def remember_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        with log_context.bound():
            try:
                await self.app(scope, receive, remember_status)
            finally:
                # No answer begun: the server answers 500 for an error that got this far.
                code = status[0] or 500
                route = route_of(scope)
                seconds = time.perf_counter() - started
                method = scope["method"] if scope["method"] in METHODS else "other"
                REQUEST_SECONDS.labels(method, route, str(code)).observe(seconds)
                duration = round(seconds * 1000, 2)
                log.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    route,
                    code,
                    duration,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": code,
                        "duration_ms": duration,
                    },
                )


def route_of(scope: Scope) -> str:
    """The matched route's template, or `UNMATCHED`."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED
