"""What each HTTP request leaves behind: its span, one log line, and its duration in a
histogram, all from one timing and one look at the answer's status.

The span is the child of the caller's `traceparent`, or the root of a new trace; what the
request sends is its child (`producer.sending.targets`), so a message's trace starts at
whoever called the producer. The log line (`method`, `route`, `status`, `duration_ms`)
carries what the request bound while it ran (`shared.log_context`): the span's ids, a POST's
correlation id and its message's ids. The histogram is
`producer_http_request_duration_seconds{method,route,status}`.

Everything names the route's template (`/messages/{id:envelope_id}`), not the path a client
wrote, so lines and series group by route and no client text reaches them through it.
WebSocket connections are not requests: the feed logs its own.
"""

from __future__ import annotations

import logging
import time

from opentelemetry.trace import SpanKind
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import log_context, tracing

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
TRACE_HEADERS = (b"traceparent", b"tracestate")


class RequestTelemetry:
    """ASGI middleware, outermost: it times what every other layer does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        status = 0

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        caller = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in TRACE_HEADERS
        }
        with (
            tracing.span(
                method,
                SpanKind.SERVER,
                parent=tracing.incoming(caller),
                attributes={"http.request.method": method},
            ) as span,
            log_context.bound(),
        ):
            try:
                await self.app(scope, receive, remember_status)
            finally:
                # No answer begun: the server answers 500 for an error that got this far.
                code = status or 500
                route = route_of(scope)
                seconds = time.perf_counter() - started
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status)
                REQUEST_SECONDS.labels(
                    method if method in METHODS else "other", route, str(code)
                ).observe(seconds)
                duration = round(seconds * 1000, 2)
                log.info(
                    "%s %s %d %.1f ms",
                    method,
                    route,
                    code,
                    duration,
                    extra={
                        "method": method,
                        "route": route,
                        "status": code,
                        "duration_ms": duration,
                    },
                )


def route_of(scope: Scope) -> str:
    """The matched route's template, or `UNMATCHED`."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED
