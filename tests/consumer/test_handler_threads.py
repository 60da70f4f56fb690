"""Plain `def` handlers run on reused threads: none is made per message, an abandoned
call's thread is replaced so capacity holds, and the written-off ones are bounded."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from functools import partial
from threading import Thread
from typing import Any

from consumer.handler_threads import HandlerThreads
from consumer.registry import HandlerRegistry
from consumer.testing import TestConsumer
from shared.settings import Settings
from tests.support import wait_for

MESSAGES = 1000


def test_a_thousand_sync_messages_run_on_as_many_threads_as_the_concurrency() -> None:
    registry = HandlerRegistry(default=None)
    threads: set[str] = set()
    peak = [0]

    @registry.handler("job")
    def job(payload: dict[str, Any]) -> None:
        threads.add(threading.current_thread().name)
        peak[0] = max(peak[0], threading.active_count())

    settings = Settings(_env_file=None, sqs={"wait_time_seconds": 0}, consumer={"concurrency": 8})
    consumer = TestConsumer(registry, settings=settings)
    baseline = threading.active_count()
    for n in range(MESSAGES):
        consumer.send("job", {"n": n})
    assert len(consumer.drain().done) == MESSAGES
    assert len(threads) <= settings.consumer.concurrency  # reused, never one per message
    # the handler threads, the worker's three chores and its receive (and the handler loop's,
    # when no earlier test started it): no second pool waiting on the first
    assert peak[0] <= baseline + settings.consumer.concurrency + 5


def stuck_call(pool: HandlerThreads, release: threading.Event) -> tuple[Future[Any], Thread]:
    """A call that waits for `release`, and the thread it runs on."""
    started: queue.SimpleQueue[Thread] = queue.SimpleQueue()

    def call() -> bool:
        started.put(threading.current_thread())
        return release.wait(10)

    future = pool.submit(call)
    return future, started.get(timeout=5)


def test_a_written_off_thread_runs_on_and_another_takes_its_place() -> None:
    pool = HandlerThreads(2, max_written_off=1)
    release = threading.Event()
    stuck, thread = stuck_call(pool, release)
    pool.write_off(thread)
    assert pool.replaced == 1
    assert pool.threads == 3  # two serving, one written off still running
    results = [pool.submit(partial(pow, n, 2)) for n in range(10)]
    assert [future.result(5) for future in results] == [n**2 for n in range(10)]
    _, second = stuck_call(pool, release)
    pool.write_off(second)  # over the bound: not replaced
    assert pool.replaced == 1
    assert pool.threads == 3  # one serving, two written off
    assert pool.submit(lambda: "still served").result(5) == "still served"
    release.set()
    wait_for(lambda: pool.threads == 1, timeout=5, what="the written-off threads gone")
    assert stuck.result(5) is True  # an abandoned call's own result is kept, unused
    assert pool.close(timeout=5)
    assert pool.threads == 0


def test_an_error_reaches_the_future_and_the_thread_serves_on() -> None:
    pool = HandlerThreads(1)

    def fail() -> None:
        raise ValueError("bad payload")

    failed = pool.submit(fail)
    assert isinstance(failed.exception(5), ValueError)
    assert pool.submit(lambda: "next").result(5) == "next"
    pool.close()
