"""Handlers registered by message type, with their payloads validated by pydantic.

A handler is a plain function. Its first parameter receives the payload: validated into
the parameter's pydantic model when annotated with one, else the raw dict. An optional
second parameter receives the whole `Envelope`. Raising means the message failed and is
retried later; raising `PermanentError` sends it to the dead-letter queue at once.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel

from consumer.retry import Backoff
from shared.messages.envelope import Envelope, payload_preview

log = logging.getLogger("consumer.handlers")

HandlerFn = Callable[..., Any]
F = TypeVar("F", bound=HandlerFn)


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message is dead-lettered at once."""


@dataclass(frozen=True)
class Handler:
    """A registered function and how to call it."""

    name: str
    fn: HandlerFn
    payload_model: type[BaseModel] | None
    wants_envelope: bool
    retry: Backoff | None = None
    """This handler's own retry schedule; None uses the worker's."""
    idempotent: bool = False
    """Skip messages whose envelope id this handler already completed."""

    @classmethod
    def wrap(
        cls, name: str, fn: HandlerFn, *, retry: Backoff | None = None, idempotent: bool = False
    ) -> Handler:
        params = list(inspect.signature(fn).parameters.values())
        if not 1 <= len(params) <= 2:
            raise TypeError(f"handler {fn.__qualname__} must take (payload) or (payload, envelope)")
        hints = get_type_hints(fn)
        model = hints.get(params[0].name)
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        return cls(name, fn, model if is_model else None, len(params) == 2, retry, idempotent)

    def parse(self, envelope: Envelope) -> Any:
        """The payload as the handler wants it; raises ValidationError if it does not fit."""
        if self.payload_model is None:
            return envelope.payload
        return self.payload_model.model_validate(envelope.payload)

    def run(self, payload: Any, envelope: Envelope) -> None:
        args = (payload, envelope) if self.wants_envelope else (payload,)
        result = self.fn(*args)
        if inspect.isawaitable(result):
            asyncio.run(_awaited(result))

    def __call__(self, envelope: Envelope) -> None:
        """Validate the payload and run the function; raises on any failure."""
        self.run(self.parse(envelope), envelope)


async def _awaited(awaitable: Any) -> None:
    await awaitable


def log_message(payload: dict[str, Any], envelope: Envelope) -> None:
    """The default handler: record that a message of an unhandled type arrived."""
    log.info(
        "message %s type=%s correlation_id=%s payload=%s",
        envelope.id,
        envelope.type,
        envelope.correlation_id,
        payload_preview(payload),
    )


class HandlerRegistry:
    """Message type → handler, plus a default for types nobody registered."""

    def __init__(self, default: HandlerFn | None = log_message) -> None:
        self._handlers: dict[str, Handler] = {}
        self._default = Handler.wrap("default", default) if default else None

    def handler(
        self, message_type: str, *, retry: Backoff | None = None, idempotent: bool = False
    ) -> Callable[[F], F]:
        """Decorator: `@registry.handler("order.created", idempotent=True)`."""

        def register(fn: F) -> F:
            self.register(message_type, fn, retry=retry, idempotent=idempotent)
            return fn

        return register

    def register(
        self,
        message_type: str,
        fn: HandlerFn,
        *,
        retry: Backoff | None = None,
        idempotent: bool = False,
    ) -> None:
        if message_type in self._handlers:
            existing = self._handlers[message_type].fn.__qualname__
            raise ValueError(f"{message_type!r} already has a handler: {existing}")
        self._handlers[message_type] = Handler.wrap(
            message_type, fn, retry=retry, idempotent=idempotent
        )

    def set_default(self, fn: HandlerFn | None) -> None:
        """Replace the default handler; None makes unknown types fail."""
        self._default = Handler.wrap("default", fn) if fn else None

    def resolve(self, message_type: str) -> Handler | None:
        return self._handlers.get(message_type, self._default)

    @property
    def types(self) -> list[str]:
        return sorted(self._handlers)


registry = HandlerRegistry()
"""The registry `python -m consumer` runs; modules in CONSUMER_HANDLERS register here."""

handler = registry.handler
