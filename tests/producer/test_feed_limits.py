"""A real producer process keeps its live feed bounded and its log quiet under hostile clients.

Caps per process and per caller refuse a handshake with a status and a reason; a deflate
bomb is refused before anything is inflated; thousands of clients leaving at once, refused
handshakes and malformed frames leave neither an ERROR line nor a traceback, and the
process's memory stays within 100 MB of idle.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import struct
import time
import zlib
from contextlib import ExitStack

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection as ClientSyncConnection
from websockets.sync.client import connect

from scripts.processes import HOST
from tests.producer.conftest import Producer, ProducerFactory
from tests.support import wait_for

pytestmark = pytest.mark.e2e

KEYS = {"alpha": "alpha-key-0123456789", "beta": "beta-key-0123456789", "gamma": "gamma-key-0123"}
STORM = 2_000
BOMBS = 40
BOMB_INFLATED_BYTES = 16 * 1024 * 1024
MEMORY_HEADROOM_BYTES = 100 * 1024 * 1024


def key_header(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def refused_status(producer: Producer, name: str) -> tuple[int, str, str | None]:
    """The status, the reason and the Retry-After of a refused handshake."""
    with pytest.raises(InvalidStatus) as refused:
        connect(producer.url, additional_headers=key_header(name), open_timeout=5)
    response = refused.value.response
    detail = json.loads(response.body or b"{}")["detail"]
    return response.status_code, detail, response.headers.get("Retry-After")


def test_feed_connections_are_capped_per_caller_and_per_process(
    start_producer: ProducerFactory,
) -> None:
    producer = start_producer(
        PRODUCER_API_KEYS=",".join(KEYS.values()),
        PRODUCER_FEED_MAX_CLIENTS="4",
        PRODUCER_FEED_MAX_CLIENTS_PER_CALLER="2",
    )
    with ExitStack() as held:

        def hold(name: str) -> ClientSyncConnection:
            return held.enter_context(
                connect(producer.url, additional_headers=key_header(name), open_timeout=5)
            )

        leaving = hold("alpha")
        hold("alpha")
        status, detail, retry_after = refused_status(producer, "alpha")
        assert (status, retry_after) == (429, "5")
        assert "2 live feed connections" in detail
        hold("beta")
        hold("beta")
        status, detail, retry_after = refused_status(producer, "gamma")  # gamma has none open
        assert (status, retry_after) == (503, "5")
        assert "full (4 connections)" in detail
        leaving.close()  # one of alpha's leaves: alpha may come back
        wait_for(lambda: _opens(producer, "alpha"), timeout=10, what="a freed slot taken again")
    assert producer.metric('producer_feed_refused_total{status="429"}') >= 1
    assert producer.metric('producer_feed_refused_total{status="503"}') >= 1
    assert producer.bad_lines() == []


def _opens(producer: Producer, name: str) -> bool:
    try:
        with connect(producer.url, additional_headers=key_header(name), open_timeout=5):
            return True
    except InvalidStatus:
        return False


def text_frame(payload: bytes, *, compressed: bool = False) -> bytes:
    """A masked text frame as a client sends it; `compressed` sets RSV1 (permessage-deflate)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    first = 0x80 | (0x40 if compressed else 0) | 0x1
    return bytes([first, 0x80 | 127]) + struct.pack("!Q", len(payload)) + mask + masked


def bomb_frame() -> bytes:
    """Deflate-compressed data inflating to 16 MiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = compressor.compress(b"a" * BOMB_INFLATED_BYTES) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return text_frame(payload[:-4], compressed=True)  # permessage-deflate drops the tail


def after_handshake(port: int, frame: bytes = b"") -> bytes:
    """Handshake offering compression, send `frame`, return what the server sent until it
    closed the connection. The client never answers a ping."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(
            (
                f"GET /feed HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            ).encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, "closed during the handshake"
            received += chunk
        assert received.startswith(b"HTTP/1.1 101"), received[:200]
        assert b"permessage-deflate" not in received.lower().split(b"\r\n\r\n")[0]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(frame)  # may be closed before all of it arrives: refused, the point
        try:
            for _ in range(100):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received


def close_code(answer: bytes) -> int | None:
    """The code of the close frame in what the server sent after its handshake, if any."""
    frames = answer.split(b"\r\n\r\n", 1)[1]
    while len(frames) >= 2:
        opcode, length = frames[0] & 0x0F, frames[1] & 0x7F
        start = 2 + (2 if length == 126 else 8 if length == 127 else 0)
        if length == 126:
            length = struct.unpack("!H", frames[2:4])[0]
        elif length == 127:
            length = struct.unpack("!Q", frames[2:10])[0]
        if opcode == 0x8:
            code: int = struct.unpack("!H", frames[start : start + 2])[0]
            return code
        frames = frames[start + length :]
    return None


async def storm(url: str, count: int) -> int:
    """Open `count` feeds (100 handshakes at a time), then drop them all at once: half leave
    with a close frame, half vanish. Returns how many were open together."""
    gate = asyncio.Semaphore(100)

    async def opened() -> ClientConnection:
        async with gate:
            feed = await connect_async(url, open_timeout=30, close_timeout=1)
            await feed.recv()  # the hello
            return feed

    feeds = await asyncio.gather(*(opened() for _ in range(count)))
    await asyncio.gather(*(feed.close() for feed in feeds[::2]))
    for feed in feeds[1::2]:
        feed.transport.abort()
    return len(feeds)


def test_memory_and_log_hold_under_a_deflate_bomb_and_a_disconnect_storm(
    start_producer: ProducerFactory,
) -> None:
    producer = start_producer(
        PRODUCER_FEED_MAX_CLIENTS=str(STORM + 10),
        PRODUCER_FEED_MAX_CLIENTS_PER_CALLER=str(STORM + 10),
    )
    assert _opens_open(producer)
    idle = producer.rss()
    frame = bomb_frame()
    for _ in range(BOMBS):
        answer = after_handshake(producer.port, frame)
        assert close_code(answer) in (1002, 1009), answer[-200:]
    assert asyncio.run(storm(producer.url, STORM)) == STORM
    assert close_code(after_handshake(producer.port, text_frame(b"\xff\xfe bad"))) == 1007
    wait_for(
        lambda: producer.metric("producer_feed_clients") == 0,
        timeout=60,
        what="every storm client gone",
    )
    grown = producer.rss() - idle
    assert grown < MEMORY_HEADROOM_BYTES, f"grew {grown / 2**20:.0f} MB"
    assert producer.bad_lines() == []
    assert producer.metric("producer_feed_disconnects_total") >= STORM
    assert producer.metric("producer_websocket_malformed_messages_total") == 1


def _opens_open(producer: Producer) -> bool:
    with connect(producer.url, open_timeout=5) as feed:
        hello: dict[str, object] = json.loads(feed.recv(timeout=5))
    return hello["kind"] == "hello"


def read_until_closed(feed: ClientSyncConnection) -> None:
    for _ in range(100):  # bounded: the hello, a few stats frames, then the close
        feed.recv(timeout=15)


def test_open_feeds_are_closed_with_service_restart_when_the_producer_stops(
    start_producer: ProducerFactory,
) -> None:
    producer = start_producer()
    with connect(producer.url, open_timeout=5, close_timeout=5) as feed:
        assert json.loads(feed.recv(timeout=5))["kind"] == "hello"
        producer.service.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            read_until_closed(feed)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012
    assert producer.service.process.wait(timeout=30) == 0
    assert producer.bad_lines() == []


def test_a_client_that_does_not_answer_pings_is_dropped_at_the_deadline(
    start_producer: ProducerFactory,
) -> None:
    ping = 0.5
    launch = f"import producer.__main__ as p; p.FEED_PING_SECONDS = {ping}; p.main()"
    producer = start_producer(args=["-c", launch])
    started = time.monotonic()
    answer = after_handshake(producer.port)  # reads, never answers the pings
    held = time.monotonic() - started
    assert 2 * ping - 0.1 <= held <= 2 * ping + 3, f"dropped after {held:.2f}s"
    assert b"\x89" in answer.split(b"\r\n\r\n", 1)[1]  # it was pinged
    wait_for(lambda: producer.metric("producer_feed_clients") == 0, timeout=10, what="client gone")
    assert producer.bad_lines() == []
