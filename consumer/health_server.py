"""The worker's own small HTTP endpoint: /healthz for orchestrators, /metrics for Prometheus."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from typing_extensions import override

HEAD_TIMEOUT_SECONDS = 5.0
"""A request head must arrive whole this long after its connection opens, else the connection
is closed; each write of the answer gets as long. The standard library's server waits forever
by default, a thread held for every connection that sends nothing."""
MAX_HEAD_BYTES = 64 * 1024


def read_head(sock: socket.socket, timeout: float) -> bytes:
    """The request head, read within `timeout` seconds in all; b"" if it did not come whole.

    One deadline for the whole head, not one per read: a client trickling a byte at a time
    would renew a per-read timeout forever.
    """
    deadline = time.monotonic() + timeout
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or len(head) > MAX_HEAD_BYTES:
            return b""
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except OSError:  # TimeoutError among them
            return b""
        if not chunk:
            return b""
        head += chunk
    return head


def serve_status(
    host: str, port: int, is_healthy: Callable[[], bool], registry: CollectorRegistry
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; call `.shutdown()` on the result to stop."""
    head_timeout = HEAD_TIMEOUT_SECONDS

    class StatusHandler(BaseHTTPRequestHandler):
        timeout = head_timeout

        @override
        def setup(self) -> None:
            """Read the head before parsing it, so parsing never waits on the client; an
            empty head closes the connection without an answer."""
            super().setup()
            head = read_head(self.connection, head_timeout)
            self.connection.settimeout(self.timeout)
            self.rfile.close()
            self.rfile = io.BytesIO(head)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                healthy = is_healthy()
                body = json.dumps({"status": "ok" if healthy else "stalled"}).encode()
                self._reply(200 if healthy else 503, "application/json", body)
            elif path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._reply(404, "application/json", b'{"detail": "not found"}')

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        @override
        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would drown the worker's own log."""

    server = ThreadingHTTPServer((host, port), StatusHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="status-http", daemon=True).start()
    return server
