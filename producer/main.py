"""The producer's FastAPI application, built by a factory so nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from producer.errors import install_error_handlers
from producer.limits import BodySizeLimit
from producer.routes import admin, dashboard, feed, health, messages, status, topics
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.queue = queue or SqsQueue.from_settings(settings)
        app.state.queue_target = Target(
            app.state.queue, make_sender(app.state.queue, settings.producer)
        )
        app.state.publishers = TopicPublishers.build(declared, settings)
        app.state.tracking = Tracking.start(settings, app.state.queue)
        yield
        await app.state.queue_target.sender.close()  # nothing accepted is left unsent
        await app.state.publishers.close()
        await app.state.tracking.stop()

    app = FastAPI(title="SQS producer", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app, settings.producer.retry_after_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.producer.max_body_bytes)
    app.include_router(messages.router)
    app.include_router(topics.router)
    app.include_router(status.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(feed.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    return app
