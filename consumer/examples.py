"""Example handlers, loaded by the local run (`CONSUMER_HANDLERS=consumer.examples`).

Copy this shape into your own module and list it in CONSUMER_HANDLERS.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field

from consumer.registry import PermanentError, handler
from shared.messages.envelope import Envelope

log = logging.getLogger(__name__)

SUPPORTED_CURRENCIES = frozenset({"EUR", "USD", "GBP"})


class OrderCreated(BaseModel):
    order_id: str = Field(min_length=1)
    amount: float = Field(ge=0)
    currency: str = "EUR"


@handler("order.created", idempotent=True)
def on_order_created(order: OrderCreated, envelope: Envelope) -> None:
    """A payload that does not fit OrderCreated, or an unknown currency, is dead-lettered at
    once; a redelivered order is acknowledged without being processed twice."""
    if order.currency not in SUPPORTED_CURRENCIES:
        raise PermanentError(f"currency {order.currency!r} is not supported")
    log.info(  # %r: an order id is the sender's text; a newline in it cannot forge a line
        "order %r: %.2f %s (message %s)", order.order_id, order.amount, order.currency, envelope.id
    )
