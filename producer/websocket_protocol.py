"""uvicorn's WebSocket protocol, with nothing a client does logged as the server's error.

A handshake refused with an HTTP answer (the denial response the feed sends for a bad key,
a foreign origin, a rate or a full feed) is complete once that answer is written; uvicorn's
`websockets-sansio` protocol does not mark it so, and logs `ERROR ASGI callable returned
without completing handshake` for every refusal (Kludex/uvicorn#3138): anyone could fill
the log with ERROR lines, no key needed. wsproto's protocol already does this.

A text frame that is not UTF-8 is the client's fault too: uvicorn logs it with a traceback;
here it is counted and logged at DEBUG, and the connection closed with 1007 as before.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, Counter
from typing_extensions import override
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger(__name__)

MALFORMED = Counter(
    "producer_websocket_malformed_messages",
    "WebSocket text messages that were not UTF-8; each closed its connection (1007).",
    registry=REGISTRY,
)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """The protocol `python -m producer` serves WebSockets with."""

    @override
    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True

    @override
    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError:
                MALFORMED.inc()
                log.debug("WebSocket text message that is not UTF-8: closing with 1007")
                self.frames = []
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()
