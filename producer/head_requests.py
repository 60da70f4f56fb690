"""`HEAD` wherever `GET` is served, as HTTP says a server should (RFC 9110 §9.3.2).

FastAPI routes answer only the methods they declare, so `HEAD /healthz` (what many load
balancers and uptime checks send) would be a 405. A HEAD request runs as the GET it asks
about, and the answer keeps its status and headers, Content-Length included, without the body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware: answer HEAD as GET would, without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def head_only(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, head_only)
        finally:
            if "route" in as_get:  # for the request's log line
                scope["route"] = as_get["route"]
