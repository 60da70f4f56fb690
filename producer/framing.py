"""One way to frame a request body, or a 400: no request smuggling through a proxy.

A request that carries both `Content-Length` and `Transfer-Encoding`, two `Content-Length`
values, or a transfer coding other than `chunked` can be framed two ways. A proxy in front
that frames it by `Content-Length` while this server frames it by the chunked coding sees one
request where the server reads two, and the hidden second one (`GET /admin/dlq`, say) is
served. RFC 9112 §6.3 lets a server refuse such a request; the producer does, with a small
400, and closes the connection so nothing after it is read as a request. This sits in the
app rather than the HTTP parser, so it holds whichever server runs the app.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from producer.refusals import refuse_and_close


class UnambiguousFraming:
    """ASGI middleware: a request whose body can be framed two ways is a 400, then close."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = ambiguity(scope["headers"])
            if problem is not None:
                await refuse_and_close(send, 400, f"ambiguous request framing: {problem}")
                return
        await self.app(scope, receive, send)


def ambiguity(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these headers frame a body ambiguously; None when they do not."""
    lengths = [value for name, value in headers if name.lower() == b"content-length"]
    codings = [value for name, value in headers if name.lower() == b"transfer-encoding"]
    if lengths and codings:
        return "Content-Length and Transfer-Encoding together: send one of them"
    if len({value.strip() for value in lengths}) > 1:
        return "more than one Content-Length"
    if codings and b",".join(codings).strip().lower() != b"chunked":
        return "Transfer-Encoding other than chunked"
    return None
