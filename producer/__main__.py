"""`python -m producer`: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import signal

import uvicorn

from shared.logging import configure_logging
from shared.settings import get_settings


def _graceful_stop_is_success(signum: int, frame: object) -> None:
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down; after a clean stop, exit 0."""


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _graceful_stop_is_success)
    uvicorn.run(
        "producer.main:create_app",
        factory=True,
        host=settings.producer.host,
        port=settings.producer.port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
