from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from consumer.registry import HandlerRegistry, log_message
from shared.messages.envelope import Envelope


class Order(BaseModel):
    order_id: str
    amount: float


def envelope(type_: str = "order.created", **payload: Any) -> Envelope:
    return Envelope(type=type_, payload=payload)


def test_decorated_function_receives_the_validated_model() -> None:
    registry = HandlerRegistry()
    seen: list[Order] = []

    @registry.handler("order.created")
    def on_order(order: Order) -> None:
        seen.append(order)

    registry.resolve("order.created")(envelope(order_id="A", amount="2.5"))  # type: ignore[misc]
    assert seen == [Order(order_id="A", amount=2.5)]
    assert registry.types == ["order.created"]


def test_a_payload_that_does_not_fit_the_model_fails() -> None:
    def typed(order: Order) -> None:
        raise AssertionError("must not run")

    registry = HandlerRegistry()
    registry.register("order.created", typed)
    handler = registry.resolve("order.created")
    assert handler is not None
    with pytest.raises(ValidationError):
        handler(envelope(order_id="A"))


def test_a_second_parameter_receives_the_envelope_and_untyped_gets_the_dict() -> None:
    registry = HandlerRegistry()
    seen: list[tuple[dict[str, Any], Envelope]] = []

    @registry.handler("raw")
    def on_raw(payload: dict[str, Any], message: Envelope) -> None:
        seen.append((payload, message))

    sent = envelope("raw", a=1)
    handler = registry.resolve("raw")
    assert handler is not None
    handler(sent)
    assert seen == [({"a": 1}, sent)]


def test_async_handlers_are_awaited() -> None:
    registry = HandlerRegistry()
    seen: list[int] = []

    @registry.handler("async")
    async def on_async(payload: dict[str, Any]) -> None:
        seen.append(payload["n"])

    handler = registry.resolve("async")
    assert handler is not None
    handler(envelope("async", n=3))
    assert seen == [3]


def test_unknown_types_go_to_the_default_handler_unless_it_is_removed() -> None:
    registry = HandlerRegistry()
    default = registry.resolve("nobody.registered.this")
    assert default is not None
    assert default.fn is log_message
    registry.set_default(None)
    assert registry.resolve("nobody.registered.this") is None


def test_registering_a_type_twice_is_refused() -> None:
    registry = HandlerRegistry()
    registry.register("t", lambda payload: None)
    with pytest.raises(ValueError, match="already has a handler"):
        registry.register("t", lambda payload: None)


def test_a_handler_with_the_wrong_signature_is_refused_at_registration() -> None:
    registry = HandlerRegistry()
    with pytest.raises(TypeError, match="payload"):
        registry.register("t", lambda: None)
    with pytest.raises(TypeError, match="payload"):
        registry.register("t", lambda a, b, c: None)
