"""FIFO queues: order within a group holds, and a failure holds back the rest of its group."""

from __future__ import annotations

import threading
import time
from typing import Any

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.worker import Worker, by_group
from shared.aws import ReceivedMessage, SqsQueue
from shared.messages.envelope import Envelope
from shared.topology.resources import ensure_queues
from tests.conftest import make_settings
from tests.consumer.conftest import counter
from tests.support import enqueue, wait_for


def fifo_worker(mocked_aws: None, **consumer: Any) -> tuple[Worker, SqsQueue]:
    settings = make_settings(queue_name="orders.fifo", dlq_name="orders-dlq.fifo")
    settings.consumer.retry_base_seconds = 0
    for name, value in consumer.items():
        setattr(settings.consumer, name, value)
    ensure_queues(settings)
    queue = SqsQueue.from_settings(settings)
    return Worker(queue, HandlerRegistry(), settings, Metrics()), queue


def send_group(queue: SqsQueue, group: str, count: int) -> None:
    envelopes = [Envelope(type="step", payload={"group": group, "n": n}) for n in range(count)]
    enqueue(queue, *envelopes, group_id=group)


def test_each_group_is_handled_in_order_while_groups_run_side_by_side(
    mocked_aws: None,
) -> None:
    worker, queue = fifo_worker(mocked_aws, concurrency=4)
    seen: dict[str, list[int]] = {}
    lock = threading.Lock()
    running_groups: set[str] = set()
    overlap = [0]

    def step(payload: dict[str, Any]) -> None:
        with lock:
            if running_groups:
                overlap[0] += 1  # another group was running: groups do run side by side
            assert payload["group"] not in running_groups  # never two of one group at once
            running_groups.add(payload["group"])
        time.sleep(0.01)
        with lock:
            running_groups.discard(payload["group"])
            seen.setdefault(payload["group"], []).append(payload["n"])

    worker.dispatcher.registry.register("step", step)
    for group in ("a", "b", "c"):
        send_group(queue, group, 12)
    worker.run(until_empty=True)
    assert seen == {group: list(range(12)) for group in ("a", "b", "c")}, str(seen)
    assert overlap[0] > 0


def test_after_a_failure_the_groups_later_messages_wait_for_its_retry(mocked_aws: None) -> None:
    worker, queue = fifo_worker(mocked_aws, concurrency=2)
    order: list[tuple[int, str]] = []
    failed_once: set[int] = set()

    def step(payload: dict[str, Any]) -> None:
        n = payload["n"]
        if n == 2 and n not in failed_once:
            failed_once.add(n)
            order.append((n, "failed"))
            raise RuntimeError("not yet")
        order.append((n, "done"))

    worker.dispatcher.registry.register("step", step)
    send_group(queue, "a", 6)
    deadline = time.monotonic() + 20
    while len([o for o in order if o[1] == "done"]) < 6 and time.monotonic() < deadline:
        worker.run(max_batches=1)
    assert order == [(0, "done"), (1, "done"), (2, "failed")] + [(n, "done") for n in range(2, 6)]
    released = worker.metrics.registry.get_sample_value("sqs_messages_released_total")
    assert released is not None
    assert released >= 3  # 3, 4 and 5 went back unprocessed


def message(group: str | None, n: int) -> ReceivedMessage:
    return ReceivedMessage(f"m{n}", f"r{n}", "{}", 1, {}, group_id=group)


def test_grouping_keeps_delivery_order_within_each_group() -> None:
    batch = [message("a", 1), message("b", 2), message("a", 3), message("b", 4), message("c", 5)]
    groups = by_group(batch)
    assert [[m.message_id for m in g] for g in groups] == [["m1", "m3"], ["m2", "m4"], ["m5"]]


def test_an_overrunning_step_is_abandoned_and_the_rest_of_its_group_released_once(
    mocked_aws: None,
) -> None:
    worker, queue = fifo_worker(mocked_aws, concurrency=2, handler_timeout_seconds=0.5)
    release = threading.Event()
    seen: list[int] = []

    def step(payload: dict[str, Any]) -> None:
        seen.append(payload["n"])
        if payload["n"] == 0:
            release.wait(10)  # overruns: its thread is written off

    worker.dispatcher.registry.register("step", step)
    send_group(queue, "a", 3)
    worker.run(max_batches=1)
    assert seen == [0]  # the rest of the group was never started
    assert counter(worker.metrics, "sqs_handlers_abandoned_total") == 1
    assert counter(worker.metrics, "sqs_messages_released_total") == 2
    assert worker.slots.busy == 0
    release.set()  # the written-off call returns: it settles nothing more
    wait_for(lambda: worker.handler_threads.threads == 0, timeout=5, what="the thread gone")
    assert worker.slots.busy == 0
    assert counter(worker.metrics, "sqs_messages_released_total") == 2
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 0
