"""Async handlers share one event loop for the life of the process: what one call creates
on it (a client, a lock, a pool) serves every later call, and no message costs a thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from consumer.handler_loop import HandlerLoop
from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.testing import TestConsumer
from consumer.worker import Worker
from shared.aws import SqsQueue
from shared.settings import Settings
from tests.conftest import make_settings
from tests.consumer.conftest import counter, send

MESSAGES = 1000


def test_a_thousand_async_messages_share_one_loop_and_what_the_first_made() -> None:
    registry = HandlerRegistry(default=None)
    loops: set[asyncio.AbstractEventLoop] = set()
    pool: list[asyncio.Task[None]] = []
    alive_at_every_call: list[bool] = []
    peak_threads = [0]

    async def keep_connections() -> None:  # what a client's connection pool runs
        await asyncio.sleep(3600)

    @registry.handler("fetch")
    async def fetch(payload: dict[str, Any]) -> None:
        loops.add(asyncio.get_running_loop())
        if not pool:  # made by the first call, as a lazily built client would be
            pool.append(asyncio.get_running_loop().create_task(keep_connections()))
        # with a loop per message, the first loop's end would have cancelled it
        alive_at_every_call.append(not pool[0].done())
        await asyncio.sleep(0)
        peak_threads[0] = max(peak_threads[0], threading.active_count())

    settings = Settings(_env_file=None, sqs={"wait_time_seconds": 0}, consumer={"concurrency": 8})
    consumer = TestConsumer(registry, settings=settings)
    baseline = threading.active_count()
    for n in range(MESSAGES):
        consumer.send("fetch", {"n": n})
    drained = consumer.drain()
    assert len(drained.done) == MESSAGES
    assert drained.dead == []
    assert len(loops) == 1
    assert all(alive_at_every_call)
    assert len(alive_at_every_call) == MESSAGES
    # the handler threads, the loop's, the worker's three chores and its receive: nothing
    # per message in flight
    assert peak_threads[0] <= baseline + settings.consumer.concurrency + 5


def test_an_overrunning_async_handler_is_cancelled_and_its_message_retried(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    cancelled = threading.Event()
    calls: list[int] = []

    @registry.handler("job")
    async def slow(payload: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) > 1:
            return
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    settings = make_settings(visibility_timeout=1)
    settings.consumer.handler_timeout_seconds = 0.5
    worker = Worker(queue, registry, settings, Metrics())
    send(queue)
    worker.run(max_batches=1)
    assert cancelled.wait(5)
    assert counter(worker.metrics, "sqs_handlers_abandoned_total") == 1
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 0


def test_close_cancels_what_runs_and_a_later_use_starts_a_new_loop() -> None:
    loop = HandlerLoop()
    stopped = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    async def which() -> int:
        return id(asyncio.get_running_loop())

    first = loop.run(which())
    assert loop.run(which()) == first
    loop.submit(forever())
    loop.close()
    assert stopped.is_set()
    assert isinstance(loop.run(which()), int)
    loop.close()
