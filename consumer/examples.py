"""Example handlers, loaded by the local run (`CONSUMER_HANDLERS=consumer.examples`).

Copy this shape into your own module and list it in CONSUMER_HANDLERS.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field

from consumer.registry import handler
from shared.models import Envelope

log = logging.getLogger(__name__)


class OrderCreated(BaseModel):
    order_id: str = Field(min_length=1)
    amount: float = Field(ge=0)
    currency: str = "EUR"


@handler("order.created")
def on_order_created(order: OrderCreated, envelope: Envelope) -> None:
    """A validated payload: a message whose payload does not fit OrderCreated fails."""
    log.info(
        "order %s: %.2f %s (message %s)", order.order_id, order.amount, order.currency, envelope.id
    )
