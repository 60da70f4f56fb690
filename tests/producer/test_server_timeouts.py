"""A real producer process closes connections that hold it without finishing a request.

The producer runs with short deadlines so the module takes seconds; each test checks both
that a connection is closed soon after its deadline and not before it. What is checked
here is what any server the producer moves to (httptools, granian) must also do.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from producer.__main__ import FEED_MAX_CLIENT_MESSAGE_BYTES
from scripts.processes import HOST, free_port
from shared.settings import Settings
from shared.topology.resources import ensure_resources
from tests.support import Service, http_status, post_json, service_env, wait_for

pytestmark = pytest.mark.e2e

HEAD_TIMEOUT = 0.5
BODY_TIMEOUT = 1.0
KEEP_ALIVE = 1
MARGIN = 1.5
"""How late a close may come on a busy two-core machine; the earliest is the deadline itself."""
EARLY = 0.05
"""Timers may fire this much before the deadline as the client measures it."""

LAUNCH = (
    "import producer.__main__ as p; "
    f"p.HEAD_TIMEOUT_SECONDS, p.BODY_TIMEOUT_SECONDS = {HEAD_TIMEOUT}, {BODY_TIMEOUT}; "
    f"p.KEEP_ALIVE_SECONDS = {KEEP_ALIVE}; "
    "p.main()"
)
"""`python -m producer` with short deadlines: the deadlines are constants of the entry point."""

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}
STALLED_BODY = (
    b"POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n" + b'{"type": "o'
)


@pytest.fixture(scope="module")
def producer(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The producer's port; it must stop with exit 0."""
    port = free_port()
    with pytest.MonkeyPatch.context() as env_for_setup:
        for name, value in service_env(moto_server).items():
            env_for_setup.setenv(name, value)  # the queues are made before `aws_env` runs
        env_for_setup.setenv("AWS_CONFIG_FILE", "/dev/null")
        env_for_setup.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        ensure_resources(Settings(_env_file=None, sqs={"endpoint_url": moto_server}))
    log = tmp_path_factory.mktemp("server-timeouts") / "producer.log"
    env = service_env(moto_server, PRODUCER_PORT=str(port))
    service = Service(["-c", LAUNCH], env, Path(log))
    try:
        wait_for(
            lambda: http_status(f"http://{HOST}:{port}/healthz") == 200,
            timeout=30,
            what=f"producer healthy\n{service.output_tail()}",
        )
        yield port
    finally:
        assert service.stop() == 0, service.output_tail()


def held_for(sock: socket.socket, started: float, limit: float) -> tuple[float, bytes]:
    """Read until the server closes: seconds since `started`, and everything it sent."""
    received = b""
    sock.settimeout(0.1)
    while time.monotonic() - started < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return time.monotonic() - started, received
        received += chunk
    raise AssertionError(f"still open after {limit}s; received {received!r}")


def opened(port: int) -> tuple[socket.socket, float]:
    sock = socket.create_connection((HOST, port), timeout=5)
    return sock, time.monotonic()


def assert_closed_at(elapsed: float, deadline: float) -> None:
    assert deadline - EARLY <= elapsed <= deadline + MARGIN, f"closed after {elapsed:.2f}s"


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def one_answer(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length, the connection left open after it."""
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(producer: int) -> None:
    sock, started = opened(producer)
    with sock:
        elapsed, answer = held_for(sock, started, HEAD_TIMEOUT + MARGIN)
    assert_closed_at(elapsed, HEAD_TIMEOUT)
    assert answer == b""


def test_half_a_request_head_is_answered_408_and_closed(producer: int) -> None:
    sock, started = opened(producer)
    with sock:
        sock.sendall(b"POST /messages HTTP/1.1\r\nHost: x\r\n")
        elapsed, answer = held_for(sock, started, HEAD_TIMEOUT + MARGIN)
    assert_closed_at(elapsed, HEAD_TIMEOUT)
    assert status_of(answer) == 408
    assert b"connection: close" in answer.lower()
    assert answer.endswith(b'{"detail": "request head not received in time"}')


def test_a_head_trickled_byte_by_byte_is_closed_at_its_deadline(producer: int) -> None:
    """Bytes that keep coming do not push the deadline back."""
    sock, started = opened(producer)
    with sock:
        sock.settimeout(0.05)
        answer = b""
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            try:
                sock.sendall(bytes([byte]))
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer or time.monotonic() - started > HEAD_TIMEOUT + MARGIN:
                break
        elapsed, rest = held_for(sock, started, HEAD_TIMEOUT + MARGIN) if answer else (0.0, b"")
    assert answer, "the server read 200 trickled bytes without answering"
    assert status_of(answer + rest) == 408
    assert_closed_at(elapsed, HEAD_TIMEOUT)


def test_a_stalled_body_is_answered_408_and_closed(producer: int) -> None:
    sock, started = opened(producer)
    with sock:
        sock.sendall(STALLED_BODY)
        elapsed, answer = held_for(sock, started, BODY_TIMEOUT + MARGIN)
    assert_closed_at(elapsed, BODY_TIMEOUT)
    assert status_of(answer) == 408
    assert answer.endswith(b'{"detail": "request body not received in time"}')


def test_an_idle_keep_alive_connection_is_closed(producer: int) -> None:
    """The wait starts with the response, a moment before the client has read it all."""
    sock, _ = opened(producer)
    with sock:
        asked = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = one_answer(sock)
        answered = time.monotonic()
        since_answer, rest = held_for(sock, answered, KEEP_ALIVE + MARGIN)
    assert status_of(answer) == 200
    assert rest == b""
    assert since_answer <= KEEP_ALIVE + MARGIN
    assert answered - asked + since_answer >= KEEP_ALIVE - EARLY


def test_half_a_second_request_on_a_kept_alive_connection_is_closed(producer: int) -> None:
    """A byte of the next request ends the keep-alive wait; the head deadline takes over."""
    sock, _ = opened(producer)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(one_answer(sock)) == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        elapsed, answer = held_for(sock, started, HEAD_TIMEOUT + MARGIN)
    assert_closed_at(elapsed, HEAD_TIMEOUT)
    assert status_of(answer) == 408


def test_half_a_head_pipelined_behind_a_request_is_answered_408_after_its_response(
    producer: int,
) -> None:
    """The pipelined head's deadline runs from the end of the response before it, and the
    408 follows that response whole rather than landing inside it."""
    sock, started = opened(producer)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n")
        elapsed, answer = held_for(sock, started, HEAD_TIMEOUT + MARGIN)
    assert_closed_at(elapsed, HEAD_TIMEOUT)
    first, separator, second = answer.partition(b"HTTP/1.1 408 ")
    assert status_of(first) == 200
    assert separator, answer
    assert second.endswith(b'{"detail": "request head not received in time"}')


def test_a_request_pipelined_before_bytes_that_are_no_request_is_answered_before_the_400(
    producer: int,
) -> None:
    """The parser meets the garbage while the first request is still being answered; that
    answer (for a POST, the only word the message was stored) still comes, then the 400."""
    body = json.dumps(ORDER).encode()
    first = (
        b"POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    sock, started = opened(producer)
    with sock:
        sock.sendall(first + b"GARBAGE\x00\x01 / HTTP/9.9\r\n\r\n")
        _, answer = held_for(sock, started, 5)
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
    assert statuses == [202, 400], answer


def test_requests_are_served_while_stalled_connections_wait(producer: int) -> None:
    """Stalled clients hold nothing others need; a body sent in parts within the deadline
    is taken whole."""
    stalled = [socket.create_connection((HOST, producer), timeout=5) for _ in range(3)]
    try:
        stalled[1].sendall(b"POST /messages HTTP/1.1\r\nHost: x\r\n")
        stalled[2].sendall(STALLED_BODY)
        started = time.monotonic()
        assert http_status(f"http://{HOST}:{producer}/healthz", timeout=2) == 200
        assert time.monotonic() - started < HEAD_TIMEOUT
        status, body = post_json(f"http://{HOST}:{producer}/messages", ORDER, timeout=5)
        assert status == 202, body
        assert slowly_posted(producer, pause=BODY_TIMEOUT / 3) == 202
    finally:
        for sock in stalled:
            sock.close()


def slowly_posted(port: int, pause: float) -> int:
    """POST /messages with its body in two parts, `pause` seconds apart."""
    body = json.dumps(ORDER).encode()
    head = (
        "POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock, started = opened(port)
    with sock:
        sock.sendall(head + body[:5])
        time.sleep(pause)
        sock.sendall(body[5:])
        _, answer = held_for(sock, started, 5)
    return status_of(answer)


def test_a_websocket_outlives_every_deadline(producer: int) -> None:
    with connect(f"ws://{HOST}:{producer}/feed", open_timeout=5, close_timeout=2) as feed:
        time.sleep(HEAD_TIMEOUT + BODY_TIMEOUT + KEEP_ALIVE)
        assert feed.ping().wait(timeout=2)


def read_until_closed(feed: ClientConnection) -> None:
    """Read the frames the server sends (hello, stats) until it closes; bounded."""
    for _ in range(100):
        feed.recv(timeout=5)


def test_the_feed_takes_no_compression_and_closes_on_a_large_client_message(
    producer: int,
) -> None:
    with connect(
        f"ws://{HOST}:{producer}/feed", open_timeout=5, close_timeout=2, compression="deflate"
    ) as feed:
        assert feed.response is not None
        assert "Sec-WebSocket-Extensions" not in feed.response.headers  # deflate refused
        # Over the limit, yet read by the server in one go: a megabyte left unread in its
        # socket when it closes would reset the connection before the 1009 could be read.
        feed.send("x" * 2 * FEED_MAX_CLIENT_MESSAGE_BYTES)
        with pytest.raises(ConnectionClosed) as closed:
            read_until_closed(feed)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big


def test_healthz_answers_at_once_while_a_slow_body_is_sent(producer: int) -> None:
    """Each connection has its own deadline; a slow client does not slow anyone else."""
    done = threading.Event()
    latencies: list[float] = []

    def poll() -> None:
        while not done.is_set():
            started = time.monotonic()
            if http_status(f"http://{HOST}:{producer}/healthz") == 200:
                latencies.append(time.monotonic() - started)
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        sock, started = opened(producer)
        with sock:
            sock.sendall(STALLED_BODY)
            held_for(sock, started, BODY_TIMEOUT + MARGIN)
    finally:
        done.set()
        poller.join(5)
    assert len(latencies) >= 5
    assert max(latencies) < 0.5, latencies


SMUGGLED = (
    b"POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n"
    b"GET /admin/dlq HTTP/1.1\r\nHost: x\r\n\r\n"
)
"""A proxy framing by Content-Length forwards one request; chunked framing finds two."""


@pytest.mark.parametrize(
    "request_bytes",
    [
        SMUGGLED,
        SMUGGLED.replace(b"Transfer-Encoding: chunked", b"Content-Length: 6"),
        SMUGGLED.replace(b"Content-Length: 5\r\n", b"").replace(b": chunked", b": gzip, chunked"),
    ],
    ids=["length-and-chunked", "two-lengths", "not-only-chunked"],
)
def test_a_request_framed_two_ways_is_a_400_and_nothing_after_it_is_served(
    producer: int, request_bytes: bytes
) -> None:
    sock, started = opened(producer)
    with sock:
        sock.sendall(request_bytes)
        _, answer = held_for(sock, started, 5)  # the server closes after its one answer
    assert status_of(answer) == 400  # by the parser (llhttp) or, if it lets it by, by the app
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # the hidden GET was never served
