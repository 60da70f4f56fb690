"""The worker's own small HTTP endpoint: /healthz for orchestrators, /metrics for Prometheus."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from typing_extensions import override


def serve_status(
    host: str, port: int, is_healthy: Callable[[], bool], registry: CollectorRegistry
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; call `.shutdown()` on the result to stop."""

    class StatusHandler(BaseHTTPRequestHandler):
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
