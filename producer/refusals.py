"""A refusal given before a request's body is read: small JSON, and the connection closed.

What follows the head on such a connection is unread, so it must not be taken for the next
request: the framing check, the body limits and the shutdown answer all close it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Send


async def refuse_and_close(
    send: Send, status: int, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> None:
    """Answer a request refused before its body is read, and close the connection: what
    follows on it is unread, so it cannot be taken for the next request."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *((name.lower().encode(), value.encode()) for name, value in headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
