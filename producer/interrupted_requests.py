"""A request the producer stops answering at shutdown gets a 503 that says so, not a 500.

At SIGTERM the server stops taking connections and gives requests in flight a grace period
(`GRACEFUL_SHUTDOWN_SECONDS`); a request still waiting after it (most often on SQS, while
SQS is slow or unreachable) is cancelled. uvicorn answers a cancelled request with a bare
500 and logs a traceback, yet the message may well be stored: the send it waited for goes
on, and the producer flushes what it accepted before it exits. So the truthful answer is
that the outcome is unknown, with a 503 the client retries on, and the connection closed.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer.refusals import refuse_and_close

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""Long enough for a replacement replica to start taking requests."""
OUTCOME_UNKNOWN = (
    "outcome unknown: the producer stopped before SQS answered, so the message may or may "
    "not be stored; a retry may store it twice"
)
NOT_ANSWERED = "the producer stopped before answering; retry"


class AnswerInterrupted:
    """ASGI middleware, outermost: a request cancelled before its answer began gets a 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            # The cancellation is the server's, at the end of its grace: this task ends here
            # either way, and answering is the last thing it does.
            if started:
                return  # an answer already begun cannot be changed; uvicorn closes it
            detail = OUTCOME_UNKNOWN if scope["method"] == "POST" else NOT_ANSWERED
            log.warning(
                "%s %s interrupted at shutdown: answered 503", scope["method"], scope["path"]
            )
            await refuse_and_close(send, 503, detail, [("Retry-After", str(RETRY_AFTER_SECONDS))])
