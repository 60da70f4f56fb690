"""Response headers that keep the dashboard its own: no foreign script, no framing, no sniffing.

The policy allows only the page's own files, so even text that slipped past the page's
escaping could not run a script; `frame-ancestors 'none'` stops another site from framing
the dashboard to trick clicks.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
EVERY_RESPONSE = [(b"x-content-type-options", b"nosniff")]
DASHBOARD = [
    (b"content-security-policy", DASHBOARD_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def is_dashboard(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


class SecurityHeaders:
    """ASGI middleware: `nosniff` on every answer, the page policy on the dashboard's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = EVERY_RESPONSE + (DASHBOARD if is_dashboard(scope["path"]) else [])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
