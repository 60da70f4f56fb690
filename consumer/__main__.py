"""`python -m consumer`: run the worker until SIGTERM or SIGINT, then exit 0."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from types import FrameType

from prometheus_client import REGISTRY

from consumer.chores import Chores
from consumer.handler_loop import handler_loop
from consumer.health_server import serve_status
from consumer.idempotency import store_from_settings
from consumer.metrics import Metrics
from consumer.registry import registry
from consumer.status_publisher import EventPublisher
from consumer.status_recorder import EventSink
from consumer.worker import Worker
from shared.aws import SqsQueue
from shared.aws.sns import SnsTopic
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.telemetry import configure_tracing

log = logging.getLogger("consumer")


def load_handler_modules(modules: list[str]) -> None:
    """Import each module so its `@handler` functions register; a typo stops start-up."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise SystemExit(f"CONSUMER_HANDLERS: cannot import {name!r}: {exc}") from exc


def open_resources() -> None:
    """Enter the handlers' resources before the first message; one failing stops start-up."""
    try:
        registry.resources.open()
    except Exception as exc:
        raise SystemExit(f"consumer: a handler resource did not start: {exc!r}") from exc


def build_workers(settings: Settings, metrics: Metrics, events: EventSink | None) -> list[Worker]:
    """One worker per consumed queue, sharing handlers, metrics, store and event publisher."""
    store = store_from_settings(settings)
    names = settings.consumer.queues or [settings.sqs.queue_name]
    return [
        Worker(
            SqsQueue.from_settings(settings, queue_name=name, long_poll=True),
            registry,
            settings,
            metrics,
            store,
            events=events,
        )
        for name in names
    ]


def run_all(workers: list[Worker]) -> None:
    """Run every worker until all have stopped; the first worker runs on this thread."""
    others = [
        threading.Thread(target=worker.run, name=f"worker-{worker.queue.name}")
        for worker in workers[1:]
    ]
    for thread in others:
        thread.start()
    try:
        workers[0].run()
    finally:
        for worker in workers:
            worker.stop()
        for thread in others:
            thread.join()


def events_publisher(settings: Settings, metrics: Metrics) -> EventPublisher | None:
    name, topic = settings.sqs.events_queue_name, settings.sqs.events_topic
    if not name:
        return None
    return EventPublisher(
        SnsTopic.from_settings(settings, topic)
        if topic
        else SqsQueue.from_settings(settings, queue_name=name),
        metrics,
        secret=settings.sqs.events_secret,
    )


def status_server(
    settings: Settings, is_healthy: Callable[[], bool], metrics: Metrics
) -> ThreadingHTTPServer:
    """`/healthz` and `/metrics`; a port already taken stops start-up with one line."""
    host, port = settings.consumer.host, settings.consumer.port
    try:
        return serve_status(host, port, is_healthy, metrics.registry)
    except OSError as exc:
        raise SystemExit(
            f"consumer: cannot serve /healthz and /metrics on {host}:{port} "
            f"({exc.strerror or exc}); set CONSUMER_PORT to a free port"
        ) from None


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, "consumer")
    configure_tracing("consumer")
    load_handler_modules(settings.consumer.handlers)
    metrics = Metrics(REGISTRY)  # beside the process's and the SQS client's own metrics
    publisher = events_publisher(settings, metrics)
    workers = build_workers(settings, metrics, publisher)
    open_resources()

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        """Ctrl-C under `uv run` reaches us twice (the terminal's and uv's): one stop."""
        if stopping.is_set():
            return
        stopping.set()
        log.info("%s received: finishing in-flight work", signal.Signals(signum).name)
        for worker in workers:
            worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = status_server(
        settings, lambda: all(worker.is_healthy() for worker in workers), metrics
    )
    log.info(
        "consumer up: queues %s, handlers %s, status on http://%s:%d",
        ", ".join(worker.queue.name for worker in workers),
        registry.types or "(default only)",
        settings.consumer.host,
        server.server_address[1],
    )
    try:
        with Chores(*([publisher] if publisher else [])).running():
            run_all(workers)  # each worker runs its own chores: they settle before this ends
    finally:
        registry.resources.close()  # after the last message
        handler_loop.close()  # every worker has stopped: no async handler is waited for
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
