"""Each HTTP request in a span: the child of the caller's `traceparent`, or a new trace.

What the request sends is that span's child (`producer.sending.targets`), so a message's
trace starts at whoever called the producer. The request's log line carries the trace and
span ids (`shared.tracing` binds them). WebSocket connections are left alone.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer.request_log import route_of
from shared import tracing


class RequestTrace:
    """ASGI middleware, outside the request log so its line carries the ids."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        method = scope["method"]
        with tracing.span(
            method,
            SpanKind.SERVER,
            parent=tracing.incoming(headers),
            attributes={"http.request.method": method},
        ) as span:

            async def remember_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            try:
                await self.app(scope, receive, remember_status)
            finally:
                route = route_of(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
