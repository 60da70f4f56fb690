"""What handlers share for the life of the consumer: clients, pools, caches.

A handler module declares a resource with `@resource` over a context manager function,
async or not, as FastAPI's lifespan does. The consumer enters every declared resource once,
before the first message (async ones on the handler loop, so that what they make belongs to
the loop every async handler runs on), and leaves them in reverse order at the stop, after
the last message. A handler stays a plain function and reads the live value by calling the
resource::

    @resource
    @asynccontextmanager
    async def http() -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(timeout=5) as client:
            yield client

    @handler("order.created")
    async def on_order(order: OrderCreated) -> None:
        await http().post("https://billing.example/charges", json=order.model_dump())
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager, AsyncExitStack
from typing import Any, Generic, TypeVar

from consumer.handler_loop import handler_loop

T = TypeVar("T")

Factory = Callable[[], AbstractAsyncContextManager[T] | AbstractContextManager[T]]


class ResourceNotOpenError(RuntimeError):
    """A resource was used outside the consumer's lifespan (at import, or after the stop)."""


class Resource(Generic[T]):
    """One declared resource; calling it returns the live value."""

    def __init__(self, factory: Factory[T]) -> None:
        self.factory = factory
        self.name = getattr(factory, "__qualname__", repr(factory))
        self._value: T | None = None
        self._open = False

    def __call__(self) -> T:
        if not self._open:
            raise ResourceNotOpenError(
                f"resource {self.name} is used outside the consumer's lifespan: it exists from "
                "before the first message to after the last (in a test, inside "
                "`with TestConsumer(...)`)"
            )
        return self._value  # type: ignore[return-value]  # set when opened

    def _set(self, value: T | None, *, open_: bool) -> None:
        self._value, self._open = value, open_


class Resources:
    """Every resource declared in a registry, entered and left together."""

    def __init__(self) -> None:
        self.declared: list[Resource[Any]] = []
        self._stack: AsyncExitStack | None = None
        self._lock = threading.Lock()

    def declare(self, factory: Factory[T]) -> Resource[T]:
        """Decorator: `@registry.resource` over a context manager function."""
        declared = Resource(factory)
        self.declared.append(declared)
        return declared

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    def open(self) -> None:
        """Enter every resource, in declaration order; if one fails, those entered are left
        and its error raised. Opening what is open does nothing."""
        with self._lock:
            if self._stack is None and self.declared:
                self._stack = handler_loop.run(self._enter())

    def close(self) -> None:
        """Leave every resource, in reverse order."""
        with self._lock:
            stack, self._stack = self._stack, None
            if stack is not None:
                handler_loop.run(self._leave(stack))

    async def _enter(self) -> AsyncExitStack:
        stack = AsyncExitStack()
        try:
            for declared in self.declared:
                made = declared.factory()
                if isinstance(made, AbstractAsyncContextManager):
                    value = await stack.enter_async_context(made)
                else:
                    value = stack.enter_context(made)
                declared._set(value, open_=True)
        except BaseException:
            await self._leave(stack)
            raise
        return stack

    async def _leave(self, stack: AsyncExitStack) -> None:
        try:
            await stack.aclose()
        finally:
            for declared in self.declared:
                declared._set(None, open_=False)
