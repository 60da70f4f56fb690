"""Request bodies in flight are bounded in bytes, over a real producer process.

Each request reserves its declared body from one budget for the process; past it, a request
is answered 503 with Retry-After before a byte of its body is read, and what a request held
comes back when it is answered or its client leaves. Many large POSTs at once therefore
cannot grow the producer without bound.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter

import pytest

from scripts.processes import HOST
from tests.producer.conftest import ProducerFactory
from tests.support import wait_for

pytestmark = pytest.mark.e2e

LARGE = 2_000_000
MIB = 1024 * 1024


def head(size: int) -> bytes:
    return (
        f"POST /messages HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()


def answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes or `timeout` passes."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if b"\r\n\r\n" in received and received.endswith(b"}"):
                break
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_a_body_past_the_in_flight_budget_is_503_before_it_is_read(
    start_producer: ProducerFactory,
) -> None:
    producer = start_producer(
        PRODUCER_MAX_BODY_BYTES=str(LARGE),
        PRODUCER_MAX_BODY_BYTES_IN_FLIGHT=str(2 * LARGE + 100_000),
    )
    stalled = [socket.create_connection((HOST, producer.port), timeout=5) for _ in range(2)]
    try:
        for sock in stalled:
            sock.sendall(head(LARGE) + b'{"type": "x", ')  # the rest never comes
        time.sleep(0.3)  # both heads are in and their bodies reserved
        with socket.create_connection((HOST, producer.port), timeout=5) as third:
            third.sendall(head(LARGE))
            refused = answer(third)
        assert status_of(refused) == 503, refused
        assert b"retry-after: 1" in refused.lower()
        assert b"connection: close" in refused.lower()
        assert b"request bodies in flight are at their limit" in refused
        with socket.create_connection((HOST, producer.port), timeout=5) as small:
            body = json.dumps({"type": "order.created", "payload": {"n": 1}}).encode()
            small.sendall(head(len(body)) + body)
            assert status_of(answer(small)) == 202  # a small body still fits
    finally:
        for sock in stalled:
            sock.close()

    def admitted() -> bool:
        with socket.create_connection((HOST, producer.port), timeout=5) as fourth:
            fourth.sendall(head(LARGE) + b"x" * LARGE)  # read whole, then refused as JSON
            return status_of(answer(fourth)) == 400

    wait_for(admitted, timeout=10, what="the budget given back by the clients that left")
    assert producer.bad_lines() == []


def test_many_large_posts_at_once_leave_memory_bounded(start_producer: ProducerFactory) -> None:
    producer = start_producer()  # the default budget: 16 MiB
    idle = producer.rss()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    body = json.dumps({"type": "order.created", "payload": {"n": list(range(190_000))}}).encode()
    go = threading.Barrier(64)

    def post() -> None:
        with socket.create_connection((HOST, producer.port), timeout=30) as sock:
            go.wait(timeout=30)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(head(len(body)) + body)  # may be refused before all went out
            got = answer(sock, timeout=30)
        with lock:
            statuses[status_of(got) if got else 0] += 1

    clients = [threading.Thread(target=post) for _ in range(64)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=60)
    grown = producer.rss() - idle
    print(f"\n64 POSTs of {len(body) / MIB:.1f} MiB: {dict(statuses)}, grew {grown / MIB:.0f} MB")
    assert sum(statuses.values()) == 64
    assert set(statuses) <= {413, 503}, statuses
    assert statuses[503] > 0
    # Measured: 142 MB grown with no budget, 16 MB with the default one.
    assert grown < 64 * MIB, f"grew {grown / MIB:.0f} MB"
    assert producer.bad_lines() == []
