"""Handler resources (`@resource`): entered once before the first message, shared by every
call, left after the last; async ones live on the loop every async handler runs on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2
import pytest

from consumer.registry import HandlerRegistry
from consumer.resources import ResourceNotOpenError
from consumer.testing import TestConsumer
from shared.settings import Settings

MESSAGES = 1000


def settings() -> Settings:
    return Settings(_env_file=None, sqs={"wait_time_seconds": 0}, consumer={"concurrency": 8})


def test_an_async_client_from_the_lifespan_serves_a_thousand_messages_on_one_loop() -> None:
    registry = HandlerRegistry(default=None)
    life: list[str] = []
    requests: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        requests.append(str(request.url))
        return httpx2.Response(204)

    @registry.resource
    @asynccontextmanager
    async def http() -> AsyncIterator[httpx2.AsyncClient]:
        life.append("open")
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as client:
            client_loop.append(asyncio.get_running_loop())
            yield client
        life.append("closed")

    client_loop: list[asyncio.AbstractEventLoop] = []
    clients: set[int] = set()
    loops: set[asyncio.AbstractEventLoop] = set()

    @registry.handler("charge")
    async def charge(payload: dict[str, Any]) -> None:
        client = http()
        clients.add(id(client))
        loops.add(asyncio.get_running_loop())
        answered = await client.post(f"https://billing.test/charges/{payload['n']}")
        assert answered.status_code == 204

    with TestConsumer(registry, settings=settings()) as consumer:
        for n in range(MESSAGES):
            consumer.send("charge", {"n": n})
        drained = consumer.drain()
        assert life == ["open"]
    assert life == ["open", "closed"]
    assert len(drained.done) == MESSAGES
    assert len(requests) == MESSAGES
    assert len(clients) == 1
    assert loops == set(client_loop)  # the client was made on the loop its users run on


def test_a_sync_resource_serves_sync_handlers_and_is_left_in_reverse_order() -> None:
    registry = HandlerRegistry(default=None)
    order: list[str] = []

    @registry.resource
    @contextmanager
    def first() -> Iterator[list[str]]:
        order.append("enter first")
        yield []
        order.append("leave first")

    @registry.resource
    @contextmanager
    def second() -> Iterator[str]:
        order.append("enter second")
        yield "second"
        order.append("leave second")

    @registry.handler("note")
    def note(payload: dict[str, Any]) -> None:
        first().append(second())

    consumer = TestConsumer(registry, settings=settings())
    consumer.send("note", {})
    consumer.send("note", {})
    assert len(consumer.drain().done) == 2  # drain enters them when the test did not
    seen = first()
    consumer.close()
    assert seen == ["second", "second"]
    assert order == ["enter first", "enter second", "leave second", "leave first"]


def test_a_resource_used_outside_the_lifespan_says_so() -> None:
    registry = HandlerRegistry(default=None)

    @registry.resource
    @contextmanager
    def db() -> Iterator[object]:
        yield object()

    with pytest.raises(ResourceNotOpenError, match="outside the consumer's lifespan"):
        db()


def test_a_resource_that_fails_to_start_leaves_those_already_entered() -> None:
    registry = HandlerRegistry(default=None)
    left: list[str] = []

    @registry.resource
    @asynccontextmanager
    async def pool() -> AsyncIterator[str]:
        yield "pool"
        left.append("pool")

    @registry.resource
    @asynccontextmanager
    async def broken() -> AsyncIterator[str]:
        raise ConnectionError("database refused")
        yield "never"

    with pytest.raises(ConnectionError, match="database refused"):
        registry.resources.open()
    assert left == ["pool"]
    assert not registry.resources.is_open
    with pytest.raises(ResourceNotOpenError):
        pool()
