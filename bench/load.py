"""HTTP load on a producer: K client threads, each on its own keep-alive connection.

Each POST /messages carries one message whose payload holds the run name, its index and the
wall-clock time just before the request was sent, so the consumer-side probe can tell how long
it took to reach its handler.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MESSAGE_TYPE = "bench.record"
GATE_POLL_SECONDS = 0.002
HTTP_TIMEOUT = 30.0

Gate = Callable[[int, int], bool]
"""Given how many messages were issued and accepted so far, may another one be sent now?"""


def always(issued: int, accepted: int) -> bool:
    return True


@dataclass
class LoadResult:
    """What the clients saw: accepted messages, failures, and each accepted POST's round trip."""

    accepted: int = 0
    errors: int = 0
    first_post: float = math.nan
    last_answer: float = math.nan
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: int, sent_at: float, answered_at: float) -> None:
        with self.lock:
            if math.isnan(self.first_post) or sent_at < self.first_post:
                self.first_post = sent_at
            if math.isnan(self.last_answer) or answered_at > self.last_answer:
                self.last_answer = answered_at
            if status == 202:
                self.accepted += 1
                self.latencies.append(answered_at - sent_at)
            else:
                self.errors += 1


@dataclass
class Issuer:
    """Hands out message indexes 0..total-1 to the client threads, behind the gate."""

    total: int
    gate: Gate
    deadline: float
    result: LoadResult
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> int | None:
        """The next index, once the gate allows it; None when all are out or time is up."""
        while time.monotonic() < self.deadline:
            with self.lock:
                if self.issued >= self.total:
                    return None
                if self.gate(self.issued, self.result.accepted):
                    self.issued += 1
                    return self.issued - 1
            time.sleep(GATE_POLL_SECONDS)
        return None


def message_body(run: str, index: int, sent_at: float) -> bytes:
    payload = {"run": run, "i": index, "sent_at": sent_at}
    return json.dumps({"type": MESSAGE_TYPE, "payload": payload}).encode()


def post_one(connection: http.client.HTTPConnection, run: str, index: int) -> tuple[int, float]:
    """POST one message; returns the status (0 if the connection failed) and the send time.

    A keep-alive connection the server closed while its client waited at the gate fails on
    first use; the message is then sent once more on a new connection.
    """
    for attempt in range(2):
        sent_at = time.time()
        try:
            connection.request(
                "POST",
                "/messages",
                message_body(run, index, sent_at),
                {"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
        except (http.client.HTTPException, OSError):
            connection.close()  # the next request opens a new connection
            if attempt == 0:
                continue
            return 0, sent_at
        return response.status, sent_at
    return 0, time.time()


def _connection(base_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=HTTP_TIMEOUT
    )


def _client(base_url: str, run: str, issuer: Issuer, result: LoadResult) -> None:
    connection = _connection(base_url)
    try:
        while (index := issuer.take()) is not None:
            status, sent_at = post_one(connection, run, index)
            result.add(status, sent_at, time.time())
    finally:
        connection.close()


def post_load(
    base_url: str, run: str, messages: int, clients: int, *, timeout: float, gate: Gate = always
) -> LoadResult:
    """POST `messages` messages from `clients` concurrent keep-alive connections."""
    result = LoadResult()
    issuer = Issuer(messages, gate, time.monotonic() + timeout, result)
    threads = [
        threading.Thread(target=_client, args=(base_url, run, issuer, result), name=f"client-{n}")
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + HTTP_TIMEOUT)
    return result


def post_trickle(base_url: str, run: str, messages: int, interval: float) -> LoadResult:
    """One message every `interval` seconds on one connection: light load."""
    result = LoadResult()
    connection = _connection(base_url)
    start = time.monotonic()
    try:
        for index in range(messages):
            pause = start + index * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            status, sent_at = post_one(connection, run, index)
            result.add(status, sent_at, time.time())
    finally:
        connection.close()
    return result
