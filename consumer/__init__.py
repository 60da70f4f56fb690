"""The consumer: a long-polling worker that runs a handler per message type.

Writing a handler takes one import::

    from consumer import handler

    @handler("order.created")
    def on_order(order: OrderCreated) -> None: ...
"""

from consumer.registry import HandlerRegistry, handler, registry
from consumer.worker import BatchOutcome, Worker
from shared.models import Envelope

__all__ = ["BatchOutcome", "Envelope", "HandlerRegistry", "Worker", "handler", "registry"]
