"""The producer's FastAPI application, built by a factory so nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from producer.deps import RateLimited, RequireApiKey
from producer.errors import install_error_handlers
from producer.framing import UnambiguousFraming
from producer.head_requests import HeadAsGet
from producer.interrupted_requests import AnswerInterrupted
from producer.limits import BodySizeLimit
from producer.openapi import serve_exact_schema
from producer.request_telemetry import RequestTelemetry
from producer.routes import admin, dashboard, feed, health, messages, status, topics
from producer.schemas import Problem
from producer.security.access import Access
from producer.security.headers import SecurityHeaders
from producer.sending.publishers import TopicPublishers
from producer.sending.sender import make_sender
from producer.sending.targets import Target
from producer.tracking.tracker import Tracking
from shared.aws import SqsQueue
from shared.settings import Settings, get_settings
from shared.topology.topics_file import load_topics

DESCRIPTION = """
Accepts JSON messages over HTTP and stores them in an SQS queue for the consumer.

A `202` answer means SQS has stored the message. Every other answer means it has not,
and says why: `400` malformed JSON, `415` not JSON, `422` a field is wrong (named in the
answer), `413` larger than the queue accepts, `503` SQS unavailable (retry after the
`Retry-After` header).

Concurrent requests share SendMessageBatch calls: each still gets its own MessageId.
`POST /messages/batch` takes up to a hundred messages at once, with a result per message.

`POST /topics/{topic}/messages` publishes the same message to an SNS topic declared in
`TOPICS_FILE`; SNS delivers it to every subscribed queue whose filter matches.
`GET /topics` lists the topics, their queues and filters.
`GET /messages/{id}` says how far a message got; the dashboard at `/` shows it all live,
over the WebSocket at `/feed`.
"""


def create_app(settings: Settings | None = None, queue: SqsQueue | None = None) -> FastAPI:
    """Build the app; `queue` is for tests, otherwise one is made from settings at start-up.

    Raises `TopicsConfigError` for a bad topics file, so the producer never serves with one.
    """
    settings = settings or get_settings()
    declared = load_topics(settings)
    access = Access.from_settings(settings.producer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        access.announce()
        app.state.queue = queue or SqsQueue.from_settings(settings)
        app.state.queue_target = Target(
            app.state.queue, make_sender(app.state.queue, settings.producer)
        )
        app.state.publishers = TopicPublishers.build(declared, settings)
        app.state.tracking = Tracking.start(settings, app.state.queue, declared)
        yield
        await app.state.queue_target.sender.close()  # nothing accepted is left unsent
        await app.state.publishers.close()
        await app.state.tracking.stop()

    app = FastAPI(
        title="SQS producer",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # The request's span is producer.request_telemetry's, with or without an SDK: FastAPI's
        # own (made only with one) would be a second server span for the same request.
        telemetry={"tracing": False, "operation_spans": False},
    )
    app.state.access = access
    install_error_handlers(app, settings.producer.retry_after_seconds)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.producer.max_body_bytes,
        max_in_flight=settings.producer.max_body_bytes_in_flight,
    )
    if access.origins.cross_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=sorted(access.origins.allowed),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Correlation-ID"],
            expose_headers=["X-Correlation-ID", "Retry-After"],
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    app.add_middleware(UnambiguousFraming)  # refused before anything reads it
    app.add_middleware(AnswerInterrupted)  # whatever was cancelled gets an answer
    app.add_middleware(RequestTelemetry)  # outermost: it times all the rest
    guarded = _guard(access)
    for router in (messages.router, topics.router, status.router):
        app.include_router(router, **guarded)
    app.include_router(feed.router)  # admits its own callers, at the handshake
    app.include_router(health.router)  # probes and Prometheus need no key
    app.include_router(admin.router)  # its own token
    app.include_router(dashboard.router)  # the page holds no data; it asks for the key
    serve_exact_schema(app, settings.sqs.queue_name, declared, settings.producer.max_batch_messages)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    return app


def _guard(access: Access) -> dict[str, Any]:
    """What every data route requires, and the answers that requirement adds."""
    responses: dict[int | str, dict[str, Any]] = {}
    if access.keys.required:
        responses[401] = {"model": Problem, "description": "No API key, or not a valid one"}
    responses[403] = {"model": Problem, "description": "A browser origin not allowed"}
    if access.limiter:
        responses[429] = {"model": Problem, "description": "Over the rate limit; see Retry-After"}
    dependency = RequireApiKey if access.keys.required else RateLimited
    return {"dependencies": [dependency], "responses": responses}
