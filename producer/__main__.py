"""`python -m producer`: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from shared.logging import configure_logging
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
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
