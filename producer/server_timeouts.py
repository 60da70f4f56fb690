"""Deadlines uvicorn does not set: for receiving a request's head, and then its body.

uvicorn closes a connection only when it sits idle after a response (`timeout_keep_alive`),
and any byte that arrives cancels even that. A client that connects and sends nothing, or half
a request head, or a few bytes of a declared body, holds its connection (and, mid-body, the
request's task) for as long as it likes; trickling a byte now and then defeats any
per-read timeout. ASGI middleware cannot close that gap: the app is only called once the
head is complete. These deadlines live in uvicorn's HTTP protocol instead:

- the head must be complete within `head_timeout` seconds of the connection opening, or of
  the first byte of the next request on a kept-alive connection (counted from the end of
  the response before it, for a request pipelined behind one);
- the body must be complete within `body_timeout` seconds of its head: one deadline for the
  whole body, so a slow trickle is bounded too;
- once the request is in, no deadline runs: the app takes what time it needs, and the
  connection's idle time after the response is uvicorn's keep-alive timeout.

On a deadline the connection is closed. A client that had started a request gets a 408
first, unless its response has already begun; one that sent nothing is closed without a word,
which is what speculative browser connections expect. A WebSocket upgrade ends the deadlines.

This is uvicorn's httptools protocol (llhttp, the parser Node.js uses, in C): measured under
the bench's load it costs the producer 0.91x the CPU per message of uvicorn's pure-Python
h11. Another server needs its own equivalent; tests/producer/test_server_timeouts.py states
what that must do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import ClassVar, Literal

from typing_extensions import override
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

_Awaiting = Literal["head", "body"]
_Receiving = Literal["nothing", "head", "body"]


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's head and for its body."""

    head_timeout: ClassVar[float] = 5.0
    body_timeout: ClassVar[float] = 10.0

    _deadline: asyncio.TimerHandle | None = None
    _awaiting: _Awaiting | None = None
    _receiving: _Receiving = "nothing"
    """Where the parser is: between requests, inside a head, or inside a body."""
    _upgraded: bool = False
    _refusal: str | None = None
    """Why bytes after a request still being answered are not a request: said once it is."""

    @override
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("head")

    @override
    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    @override
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_request()

    # The parser's callbacks, each called from within `data_received`.
    @override
    def on_message_begin(self) -> None:
        self._receiving = "head"
        super().on_message_begin()

    @override
    def on_headers_complete(self) -> None:
        self._receiving = "body"
        super().on_headers_complete()

    @override
    def on_message_complete(self) -> None:
        self._receiving = "nothing"
        super().on_message_complete()

    @override
    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refusal is not None and not self.pipeline and not self.transport.is_closing():
            super().send_400_response(self._refusal)  # every request before it is answered
            return
        self._follow_request()  # a head pipelined behind this response gets its deadline now

    @override
    def send_400_response(self, msg: str) -> None:
        """The 400 for bytes that are no request comes after the answers to the requests
        before them on the connection: closing at once would leave a request that was
        accepted (a message sent) without its answer."""
        if self.cycle is not None and not self.cycle.response_complete:
            if self._refusal is None:
                self._refusal = msg
                self.flow.pause_reading()
            return
        super().send_400_response(msg)

    @override
    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        self._disarm()
        super().handle_websocket_upgrade()

    def _follow_request(self) -> None:
        """Run the deadline for the part of the request still to come, or none once it is in."""
        if self._upgraded or self.transport.is_closing():
            return
        receiving = self._receiving
        if receiving == "head":
            # A head that follows a response still being written waits for it to end:
            # a 408 must not land in the middle of that response.
            if self._awaiting is None and (self.cycle is None or self.cycle.response_complete):
                self._arm("head")
        elif receiving == "body":
            if self._awaiting != "body":
                self._arm("body")
        elif self._awaiting is not None and self.cycle is not None:
            self._disarm()  # the request is in (a connection yet to send one keeps its wait)

    def _arm(self, awaiting: _Awaiting) -> None:
        self._disarm()
        timeout = self.head_timeout if awaiting == "head" else self.body_timeout
        self._awaiting = awaiting
        self._deadline = self.loop.call_later(timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._awaiting = None

    def _expired(self) -> None:
        awaiting, self._deadline, self._awaiting = self._awaiting, None, None
        if self.transport.is_closing():
            return
        if awaiting == "head":
            started = self._receiving == "head"
            timeout = self.head_timeout
        else:
            started = self.cycle is not None and not self.cycle.response_started
            timeout = self.body_timeout
        prefix = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
        if started:
            log.info("%sclosed: request %s not received within %gs", prefix, awaiting, timeout)
            self.transport.write(self._request_timeout(f"request {awaiting} not received in time"))
        else:
            log.debug("%sclosed: no request within %gs", prefix, timeout)
        self.transport.close()

    def _request_timeout(self, detail: str) -> bytes:
        """A whole 408 answer, written past the request cycle: none exists before a head."""
        body = json.dumps({"detail": detail}).encode()
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        return b"HTTP/1.1 408 Request Timeout\r\n" + head + b"\r\n" + body


def deadline_protocol(head_timeout: float, body_timeout: float) -> type[DeadlineHttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` option, with these deadlines in seconds."""

    class Configured(DeadlineHttpToolsProtocol):
        pass

    Configured.head_timeout = head_timeout
    Configured.body_timeout = body_timeout
    return Configured
