"""The status server closes connections that never send a whole request head, and answers
everyone else meanwhile."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from consumer import health_server
from consumer.metrics import Metrics
from tests.support import http_status

HEAD_TIMEOUT = 0.5
MARGIN = 1.5
EARLY = 0.05


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(health_server, "HEAD_TIMEOUT_SECONDS", HEAD_TIMEOUT)
    server = health_server.serve_status("127.0.0.1", 0, lambda: True, Metrics().registry)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def closed_after(sock: socket.socket, started: float) -> tuple[float, bytes]:
    """Seconds from `started` until the server closed, and what it sent; bounded."""
    received = b""
    sock.settimeout(0.05)
    while time.monotonic() - started < HEAD_TIMEOUT + MARGIN:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return time.monotonic() - started, received
        received += chunk
    raise AssertionError(f"still open after {HEAD_TIMEOUT + MARGIN}s; received {received!r}")


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"],
    ids=["nothing", "half a head"],
)
def test_a_connection_without_a_whole_head_is_closed(port: int, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        elapsed, answer = closed_after(sock, started)
    assert HEAD_TIMEOUT - EARLY <= elapsed <= HEAD_TIMEOUT + MARGIN
    assert answer == b""


def test_a_trickled_head_is_closed_at_its_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        sock.settimeout(0.05)
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(65536) == b"":
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if time.monotonic() - started > HEAD_TIMEOUT + MARGIN:
                break
        elapsed = time.monotonic() - started
    assert HEAD_TIMEOUT - EARLY <= elapsed <= HEAD_TIMEOUT + MARGIN


def test_healthz_answers_while_connections_stall(port: int) -> None:
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    try:
        started = time.monotonic()
        assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
        assert time.monotonic() - started < HEAD_TIMEOUT
    finally:
        for sock in stalled:
            sock.close()


def test_a_head_sent_in_parts_within_the_deadline_is_answered(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(HEAD_TIMEOUT / 3)
        sock.sendall(b"Host: x\r\n\r\n")
        _, answer = closed_after(sock, started)
    assert answer.startswith(b"HTTP/1.0 200 ")
    assert answer.endswith(b'{"status": "ok"}')
