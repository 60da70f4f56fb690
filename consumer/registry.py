"""Handlers registered by message type, with their payloads validated by pydantic.

A handler is a plain function. Its first parameter receives the payload: validated into
the parameter's pydantic model when annotated with one; the body's text when annotated
`str`; the JSON object (or, for a body that is not one, its text) otherwise. An optional
second parameter receives the whole `Envelope`. Raising means the message failed and is
retried later; raising `PermanentError` sends it to the dead-letter queue at once.

A type ending in `*` registers for every type it begins: `aws.s3:ObjectCreated:*`. The
exact type wins, then the longest such prefix, then the default handler.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_origin, get_type_hints

from pydantic import BaseModel

from consumer.handler_loop import handler_loop
from consumer.resources import Factory, Resource, Resources
from consumer.retry import Backoff
from shared.messages.envelope import Envelope, payload_preview

log = logging.getLogger("consumer.handlers")

HandlerFn = Callable[..., Any]
F = TypeVar("F", bound=HandlerFn)
T = TypeVar("T")


WILDCARD = "*"


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message is dead-lettered at once."""


class PayloadMismatchError(ValueError):
    """The message is not what the handler takes (text for a handler of JSON objects)."""


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
    takes: Literal["model", "text", "object", "any"] = "any"
    """What the first parameter is annotated with: a model, `str`, `dict`, or anything else."""

    @classmethod
    def wrap(
        cls, name: str, fn: HandlerFn, *, retry: Backoff | None = None, idempotent: bool = False
    ) -> Handler:
        params = list(inspect.signature(fn).parameters.values())
        if not 1 <= len(params) <= 2:
            raise TypeError(f"handler {fn.__qualname__} must take (payload) or (payload, envelope)")
        hints = get_type_hints(fn)
        hint = hints.get(params[0].name)
        model = hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None
        takes: Literal["model", "text", "object", "any"] = "any"
        if model is not None:
            takes = "model"
        elif hint is str:
            takes = "text"
        elif hint is dict or get_origin(hint) is dict:
            takes = "object"
        return cls(name, fn, model, len(params) == 2, retry, idempotent, takes)

    def parse(self, envelope: Envelope) -> Any:
        """The payload as the handler wants it; raises ValidationError if it does not fit,
        `PayloadMismatchError` if it is text and the handler takes JSON."""
        text = envelope.origin.format == "text"
        if self.takes == "text":
            return envelope.origin.body if envelope.origin.body else envelope.to_body()
        if text and self.takes == "any":
            return envelope.origin.body
        if text:
            raise PayloadMismatchError(
                f"handler {self.fn.__qualname__} takes a JSON object and the body is not one; "
                "a handler whose first parameter is `str` takes text"
            )
        if self.payload_model is None:
            return envelope.payload
        return self.payload_model.model_validate(envelope.payload)

    @property
    def is_async(self) -> bool:
        """An `async def` handler: its calls run on the process's one handler loop."""
        return inspect.iscoroutinefunction(self.fn)

    def call(self, payload: Any, envelope: Envelope) -> Any:
        """The function's own result: a coroutine, for an async handler."""
        return self.fn(*((payload, envelope) if self.wants_envelope else (payload,)))

    def run(self, payload: Any, envelope: Envelope) -> None:
        """Call the function and wait for it; an awaitable it returns runs on the handler
        loop."""
        result = self.call(payload, envelope)
        if inspect.isawaitable(result):
            handler_loop.run(_awaited(result))

    def __call__(self, envelope: Envelope) -> None:
        """Validate the payload and run the function; raises on any failure."""
        self.run(self.parse(envelope), envelope)


async def _awaited(awaitable: Any) -> None:
    await awaitable


def log_message(payload: Any, envelope: Envelope) -> None:
    """The default handler: record that a message of an unhandled type arrived."""
    log.info(
        "message %s format=%s type=%s correlation_id=%s payload=%s",
        envelope.id,
        envelope.origin.format,
        envelope.type or "-",
        envelope.correlation_id,
        payload_preview(payload) if isinstance(payload, dict) else _text_preview(str(payload)),
    )


def _text_preview(text: str, limit: int = 200) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


class HandlerRegistry:
    """Message type → handler, plus a default for types nobody registered."""

    def __init__(self, default: HandlerFn | None = log_message) -> None:
        self.resources = Resources()
        """What this registry's handlers share for the consumer's life (`resource`)."""
        self._handlers: dict[str, Handler] = {}
        self._prefixes: list[tuple[str, Handler]] = []
        """Wildcard registrations, longest prefix first."""
        self._default = Handler.wrap("default", default) if default else None

    def handler(
        self, message_type: str, *, retry: Backoff | None = None, idempotent: bool = False
    ) -> Callable[[F], F]:
        """Decorator: `@registry.handler("order.created", idempotent=True)`."""

        def register(fn: F) -> F:
            self.register(message_type, fn, retry=retry, idempotent=idempotent)
            return fn

        return register

    def resource(self, factory: Factory[T]) -> Resource[T]:
        """Decorator over a context manager function (async or not): entered once before
        the first message, left after the last; call the result for its value."""
        return self.resources.declare(factory)

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
        wrapped = Handler.wrap(message_type, fn, retry=retry, idempotent=idempotent)
        self._handlers[message_type] = wrapped
        if message_type.endswith(WILDCARD):
            self._prefixes.append((message_type.removesuffix(WILDCARD), wrapped))
            self._prefixes.sort(key=lambda entry: -len(entry[0]))

    def without_default(self) -> HandlerRegistry:
        """The same handlers, later registrations included, with no default: what a test
        runs, so that a message no handler takes fails as `no_handler` instead of passing."""
        strict = HandlerRegistry(default=None)
        strict.resources = self.resources
        strict._handlers = self._handlers
        strict._prefixes = self._prefixes
        return strict

    def set_default(self, fn: HandlerFn | None) -> None:
        """Replace the default handler; None makes unknown types fail."""
        self._default = Handler.wrap("default", fn) if fn else None

    def resolve(self, message_type: str) -> Handler | None:
        """The exact type's handler, else the longest wildcard's, else the default."""
        found = self._handlers.get(message_type)
        if found is not None and not message_type.endswith(WILDCARD):
            return found
        for prefix, wildcard in self._prefixes:
            if message_type.startswith(prefix):
                return wildcard
        return self._default

    @property
    def types(self) -> list[str]:
        return sorted(self._handlers)


registry = HandlerRegistry()
"""The registry `python -m consumer` runs; modules in CONSUMER_HANDLERS register here."""

handler = registry.handler
resource = registry.resource
