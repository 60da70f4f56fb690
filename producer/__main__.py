"""`python -m producer`: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import signal

import uvicorn
from fastapi import FastAPI

from shared.logging import configure_logging
from shared.settings import Settings, get_settings


def _graceful_stop_is_success(signum: int, frame: object) -> None:
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down; after a clean stop, exit 0."""


def serve(app: FastAPI | str, settings: Settings, *, factory: bool = False) -> None:
    """Serve `app` on the configured host and port; a graceful stop exits 0."""
    configure_logging(settings.log_level)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _graceful_stop_is_success)
    uvicorn.run(
        app,
        factory=factory,
        host=settings.producer.host,
        port=settings.producer.port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


def main() -> None:
    serve("producer.main:create_app", get_settings(), factory=True)


if __name__ == "__main__":
    main()
