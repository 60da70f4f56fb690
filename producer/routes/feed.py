"""The live feed over a WebSocket: a hello frame, then events and queue figures as they come.

Each connection runs two tasks: one sends what the hub queued for it, the other notices
the browser leaving. A client the hub dropped for being slow is closed with 1013 (try
again later); its page reconnects and starts over from a fresh hello. A handshake past the
hub's caps is refused like any other: 503 when the process is full, 429 when the caller is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, Counter

from producer.deps import AccessDep, HubDep
from producer.security.access import FEED_SUBPROTOCOL, Refusal
from producer.tracking.feed import FeedFullError, Subscriber

log = logging.getLogger(__name__)

FULL_RETRY_AFTER_SECONDS = 5
"""When a refused page may try again: clients come and go by the second."""
SEND_TIMEOUT_SECONDS = 10.0
"""A browser that takes longer than this to take one frame is treated as gone."""
CLOSE_CODES = {
    "slow": (status.WS_1013_TRY_AGAIN_LATER, "too slow for the live feed; reconnect"),
    "shutdown": (status.WS_1012_SERVICE_RESTART, "producer shutting down"),
}

REFUSED = Counter(
    "producer_feed_refused",
    "Live feed handshakes refused, by the HTTP status of the refusal.",
    ["status"],
    registry=REGISTRY,
)
ENDED = Counter(
    "producer_feed_disconnects",
    "Live feed connections ended, by why: `client` (the client left or broke the protocol), "
    "`slow` (dropped for falling behind), `shutdown`.",
    ["reason"],
    registry=REGISTRY,
)

router = APIRouter(tags=["feed"])


@router.websocket("/feed")
async def feed(websocket: WebSocket, hub: HubDep, access: AccessDep) -> None:
    """JSON frames: `hello` (recent events, totals, rates), then `event` and `stats` frames.

    A caller the API would refuse is refused at the handshake, with the same status and
    reason (401 key, 403 origin, 429 rate), before any event is sent.
    """
    caller = access.admit(websocket)
    if isinstance(caller, Refusal):
        await _refuse(websocket, caller)
        return
    hello = hub.hello()  # taken with the subscription, no await between: nothing missed twice
    try:
        subscriber = hub.subscribe(caller)
    except FeedFullError as full:
        await _refuse(websocket, _refusal(full))
        return
    offered = websocket.scope.get("subprotocols", [])
    try:
        await websocket.accept(
            subprotocol=FEED_SUBPROTOCOL if FEED_SUBPROTOCOL in offered else None
        )
        await asyncio.wait_for(
            websocket.send_text(json.dumps(hello, separators=(",", ":"))), SEND_TIMEOUT_SECONDS
        )
        await _serve(websocket, subscriber)
    except (WebSocketDisconnect, TimeoutError, RuntimeError) as exc:
        log.debug("feed client gone: %r", exc)
    finally:
        hub.unsubscribe(subscriber)
        ENDED.labels(subscriber.closed or "client").inc()


def _refusal(full: FeedFullError) -> Refusal:
    headers = {"Retry-After": str(FULL_RETRY_AFTER_SECONDS)}
    if full.scope == "process":
        return Refusal(503, f"the live feed is full ({full.limit} connections); retry", headers)
    detail = f"this caller has {full.limit} live feed connections open already; close one"
    return Refusal(429, detail, headers)


async def _refuse(websocket: WebSocket, refusal: Refusal) -> None:
    """An HTTP answer to the handshake where the server can send one, else a close: try
    again later for a full feed or a rate, a policy violation for the rest."""
    REFUSED.labels(str(refusal.status)).inc()
    log.debug("feed handshake refused: %d %s", refusal.status, refusal.detail)
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        answer = JSONResponse(
            {"detail": refusal.detail}, status_code=refusal.status, headers=refusal.headers
        )
        await websocket.send_denial_response(answer)
    elif refusal.status in (429, 503):
        await websocket.close(status.WS_1013_TRY_AGAIN_LATER, refusal.detail)
    else:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, refusal.detail)


async def _serve(websocket: WebSocket, subscriber: Subscriber) -> None:
    pump = asyncio.create_task(_pump(websocket, subscriber))
    listen = asyncio.create_task(_listen(websocket))
    try:
        done, _ = await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # No await here: a cancellation from outside (the server closing) must pass through
        # untouched, and the cancelled tasks end on their own.
        for task in (pump, listen):
            task.cancel()
            # A task asked to stop may still end in an error of its own (a send that failed
            # as it was cancelled): take it, or asyncio logs it as never retrieved.
            task.add_done_callback(_taken)
    if subscriber.closed and listen not in done:
        code, reason = CLOSE_CODES[subscriber.closed]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code, reason), SEND_TIMEOUT_SECONDS)


def _taken(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("feed client gone: %r", task.exception())


async def _pump(websocket: WebSocket, subscriber: Subscriber) -> None:
    while (text := await subscriber.next()) is not None:
        await asyncio.wait_for(websocket.send_text(text), SEND_TIMEOUT_SECONDS)


async def _listen(websocket: WebSocket) -> None:
    """Read and ignore what the page sends, until it leaves."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
