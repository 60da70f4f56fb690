"""Plain `def` handlers run on reused threads: none is made per message, an abandoned
call's thread is replaced so capacity holds, and the written-off ones are bounded."""

from __future__ import annotations

import threading
from functools import partial
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
    # the worker's pool waiting, the handler threads running, and a few of the worker's own
    assert peak[0] <= baseline + 2 * settings.consumer.concurrency + 4


def test_an_abandoned_call_keeps_its_thread_and_another_takes_its_place() -> None:
    pool = HandlerThreads(2, max_written_off=1)
    release = threading.Event()
    stuck = pool.submit(lambda: release.wait(10))
    wait_for(stuck.running, timeout=5)
    pool.abandon(stuck)
    assert pool.replaced == 1
    assert pool.threads == 3  # two serving, one written off still running
    results = [pool.submit(partial(pow, n, 2)) for n in range(10)]
    assert [future.result(5) for future in results] == [n**2 for n in range(10)]
    second = pool.submit(lambda: release.wait(10))
    wait_for(second.running, timeout=5)
    pool.abandon(second)  # over the bound: not replaced
    assert pool.replaced == 1
    assert pool.threads == 3  # one serving, two written off
    assert pool.submit(lambda: "still served").result(5) == "still served"
    release.set()
    wait_for(lambda: pool.threads == 1, timeout=5, what="the written-off threads gone")
    assert stuck.result(5) is True  # an abandoned call's own result is kept, unused
    pool.close()
    wait_for(lambda: pool.threads == 0, timeout=5, what="the threads gone after close")


def test_an_error_reaches_the_future_and_the_thread_serves_on() -> None:
    pool = HandlerThreads(1)

    def fail() -> None:
        raise ValueError("bad payload")

    failed = pool.submit(fail)
    assert isinstance(failed.exception(5), ValueError)
    assert pool.submit(lambda: "next").result(5) == "next"
    pool.close()
