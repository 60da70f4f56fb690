"""`python -m consumer`: run the worker until SIGTERM or SIGINT, then exit 0."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from types import FrameType

from prometheus_client import REGISTRY

from consumer.http import serve_status
from consumer.idempotency import store_from_settings
from consumer.metrics import Metrics
from consumer.registry import registry
from consumer.worker import Worker
from shared.logging import configure_logging
from shared.settings import get_settings
from shared.sqs import SqsQueue

log = logging.getLogger("consumer")


def load_handler_modules(modules: list[str]) -> None:
    """Import each module so its `@handler` functions register; a typo stops start-up."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise SystemExit(f"CONSUMER_HANDLERS: cannot import {name!r}: {exc}") from exc


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    load_handler_modules(settings.consumer.handlers)
    queue = SqsQueue.from_settings(settings, long_poll=True)
    metrics = Metrics(REGISTRY)  # beside the process's and the SQS client's own metrics
    worker = Worker(queue, registry, settings, metrics, store_from_settings(settings))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: finishing in-flight work", signal.Signals(signum).name)
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = serve_status(
        settings.consumer.host, settings.consumer.port, worker.is_healthy, metrics.registry
    )
    log.info(
        "consumer up: handlers %s, status on http://%s:%d",
        registry.types or "(default only)",
        settings.consumer.host,
        server.server_address[1],
    )
    try:
        worker.run()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
