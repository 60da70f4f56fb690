"""The consumer: a long-polling worker that runs a handler per message type.

Writing a handler takes one import::

    from consumer import handler

    @handler("order.created", idempotent=True)
    def on_order(order: OrderCreated) -> None: ...

and testing it, one more: `from consumer.testing import TestConsumer` runs the real worker
over an in-memory queue.
"""

from consumer.registry import HandlerRegistry, PermanentError, handler, registry, resource
from consumer.retry import Backoff
from consumer.worker import Worker
from shared.messages.envelope import Envelope
from shared.messages.formats.s3_events import S3EventRecord

__all__ = [
    "Backoff",
    "Envelope",
    "HandlerRegistry",
    "PermanentError",
    "S3EventRecord",
    "Worker",
    "handler",
    "registry",
    "resource",
]
