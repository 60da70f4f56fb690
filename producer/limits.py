"""Request bodies: one too large is refused before it is read, and so is one that would take
the bodies being read at once past their budget.

A body is held in memory from its first byte until its request is answered, which for a
POST means until SQS has answered; many large bodies at once would grow the process without
bound. Each request reserves its declared `Content-Length` (or, streamed, what has arrived)
from one budget for the process, and gives it back when answered. Past the budget a request
is answered 503 with `Retry-After` before its body is read: the client retries, as it
would for SQS being busy.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer.refusals import refuse_and_close

BUSY_RETRY_AFTER_SECONDS = 1
"""Bodies in flight are answered within seconds: room comes back soon."""


class BodyBudget:
    """Bytes of request bodies the process holds at once (one event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, whether declared or streamed; 503
    for one the budget of bodies in flight cannot take."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_in_flight: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget = BodyBudget(max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        size = int(declared) if declared is not None and declared.isdigit() else 0
        if size > self.max_bytes:
            await refuse_and_close(send, 413, self._too_large())
            return
        if not self.budget.take(size):
            await refuse_and_close(send, 503, self._busy(), self._retry_after())
            return
        held = [size]
        try:
            await self.app(scope, self._counting(receive, held), send)
        finally:
            self.budget.give(held[0])

    def _counting(self, receive: Receive, held: list[int]) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, detail=self._too_large())
            if seen > held[0]:  # streamed, or longer than declared: reserve what came
                if not self.budget.take(seen - held[0]):
                    raise HTTPException(503, detail=self._busy(), headers=dict(self._retry_after()))
                held[0] = seen
            return message

        return counted

    def _too_large(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

    def _busy(self) -> str:
        return (
            f"request bodies in flight are at their limit ({self.budget.limit} bytes); "
            f"retry in {BUSY_RETRY_AFTER_SECONDS}s"
        )

    @staticmethod
    def _retry_after() -> list[tuple[str, str]]:
        return [("Retry-After", str(BUSY_RETRY_AFTER_SECONDS))]
