"""`python -m producer`: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import gc
import logging
import signal

import uvicorn
from fastapi import FastAPI

from producer.main import create_app
from producer.server_timeouts import deadline_protocol
from producer.websocket_protocol import WebSocketProtocol
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.telemetry import configure_tracing
from shared.topology.topics import TopicsConfigError

log = logging.getLogger("producer")

HEAD_TIMEOUT_SECONDS = 5.0
"""A connection's request head must be complete this long after it opens, or after the first
byte of its next request: longer and it is closed (a 408 if it had begun a request)."""
BODY_TIMEOUT_SECONDS = 10.0
"""The whole body must arrive this long after its head; at `PRODUCER_MAX_BODY_BYTES`'s 2 MiB
that is about 200 KiB/s."""
FEED_MAX_CLIENT_MESSAGE_BYTES = 4096
"""The live feed reads nothing a client sends: a larger frame closes the connection (1009)."""
FEED_PING_SECONDS = 20.0
"""The feed pings each client this often and drops one that does not answer within as long."""
GRACEFUL_SHUTDOWN_SECONDS = 10
"""At SIGTERM, requests in flight get this long to finish; then each still waiting is
answered 503, outcome unknown (see producer/interrupted_requests.py)."""
KEEP_ALIVE_SECONDS = 5
"""An idle connection is closed this long after its last response; behind a proxy or load
balancer this should exceed the proxy's own idle timeout, so the proxy never reuses a
connection at the moment the producer closes it."""


def _graceful_stop_is_success(signum: int, frame: object) -> None:
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down; after a clean stop, exit 0."""


def serve(app: FastAPI | str, settings: Settings, *, factory: bool = False) -> None:
    """Serve `app` on the configured host and port; a graceful stop exits 0."""
    configure_logging(settings.log_level, settings.log_format, "producer")
    configure_tracing("producer")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _graceful_stop_is_success)
    # Everything imported and built so far lives as long as the process: out of the
    # collector's sight, a full collection no longer walks it again and again.
    gc.freeze()
    uvicorn.run(
        app,
        factory=factory,
        host=settings.producer.host,
        port=settings.producer.port,
        log_config=None,
        loop="auto",  # uvloop where it is installed (a dependency, but for Windows)
        access_log=False,  # producer.request_telemetry writes one line per request
        http=deadline_protocol(HEAD_TIMEOUT_SECONDS, BODY_TIMEOUT_SECONDS),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # The feed only sends: no compression (a client's deflate bomb cannot inflate in
        # our memory) and a small limit on what a client may send.
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        ws_max_size=FEED_MAX_CLIENT_MESSAGE_BYTES,
        ws_ping_interval=FEED_PING_SECONDS,
        ws_ping_timeout=FEED_PING_SECONDS,
        # Forwarded headers only from the proxies named: uvicorn's default believes
        # 127.0.0.1, and any value a client writes would be a new address to rate-limit.
        proxy_headers=bool(settings.producer.trusted_proxies),
        forwarded_allow_ips=",".join(settings.producer.trusted_proxies) or "",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def main() -> None:
    """Serve the app; a bad topics file stops the producer with one line, exit status 1."""
    settings = get_settings()
    try:
        app = create_app(settings)
    except TopicsConfigError as exc:
        configure_logging(settings.log_level, settings.log_format, "producer")
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from None
    serve(app, settings)


if __name__ == "__main__":
    main()
