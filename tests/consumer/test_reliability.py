"""The worker under stress: long handlers, overruns, redeliveries, shutdown, failed acks."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from consumer.idempotency import MemoryStore
from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.worker import Worker
from shared.aws import (
    AwsRequestError,
    BatchSendResult,
    EntryFailure,
    OutgoingMessage,
    SendResult,
    SqsQueue,
)
from shared.aws.batching import send_all, settle_entries
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.resources import ensure_queues
from tests.conftest import make_settings
from tests.consumer.conftest import counter, send
from tests.consumer.test_worker import depth
from tests.support import enqueue


def quick_settings(**consumer: float | int) -> Settings:
    settings = make_settings(visibility_timeout=1)
    for name, value in consumer.items():
        setattr(settings.consumer, name, value)
    return settings


def test_a_long_handler_keeps_its_message_invisible(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    worker = Worker(queue, registry, quick_settings(), Metrics())
    snooped: list[int] = []

    def slow(payload: dict[str, Any]) -> None:
        for _ in range(5):  # 2.5 s, well past the one-second visibility timeout
            time.sleep(0.5)
            snooped.append(len(queue.receive(max_messages=10, wait_time_seconds=0)))

    registry.register("job", slow)
    send(queue)
    worker.run(max_batches=1)
    assert snooped == [0] * 5  # nobody else could receive it meanwhile
    assert counter(worker.metrics, "sqs_visibility_extended_total") >= 3
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 1


def test_an_overrunning_handler_is_abandoned_and_its_message_retried(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    worker = Worker(queue, registry, quick_settings(handler_timeout_seconds=1.0), Metrics())
    calls: list[float] = []
    release = threading.Event()

    def stuck(payload: dict[str, Any]) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            release.wait(10)

    registry.register("job", stuck)
    send(queue)
    started = time.monotonic()
    worker.run(max_batches=1)
    assert 0.9 <= time.monotonic() - started < 3
    assert counter(worker.metrics, "sqs_handlers_abandoned_total") == 1
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 0
    deadline = time.monotonic() + 6
    while len(calls) < 2 and time.monotonic() < deadline:
        worker.run(max_batches=1)
    release.set()
    assert len(calls) == 2  # redelivered once the extensions stopped
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 1


def test_an_idempotent_handler_runs_once_per_envelope(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    worker = Worker(queue, registry, quick_settings(concurrency=1), Metrics(), MemoryStore())
    effects: list[str] = []

    @registry.handler("charge", idempotent=True)
    def charge(payload: dict[str, Any], envelope: Envelope) -> None:
        effects.append(str(envelope.id))

    envelope = Envelope(type="charge", payload={"amount": 5})
    for _ in range(3):  # the same envelope delivered three times
        enqueue(queue, envelope)
    worker.run(until_empty=True)
    assert effects == [str(envelope.id)]
    assert counter(worker.metrics, "sqs_messages_duplicate_total") == 2
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 3


def test_concurrent_copies_of_one_envelope_have_one_effect(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = quick_settings(concurrency=10, retry_base_seconds=1)
    worker = Worker(queue, registry, settings, Metrics(), MemoryStore())
    effects: list[str] = []

    @registry.handler("charge", idempotent=True)
    def charge(payload: dict[str, Any], envelope: Envelope) -> None:
        time.sleep(0.2)  # the copies arrive while the first is still running
        effects.append(str(envelope.id))

    envelope = Envelope(type="charge", payload={"amount": 5})
    for _ in range(4):  # four copies, received together
        enqueue(queue, envelope)
    deadline = time.monotonic() + 30
    # Counted by our deletes, not by the queue's depth: read as a copy's visibility ends,
    # the two approximate counts can both miss it (visible read before, hidden read after).
    while counter(worker.metrics, "sqs_messages_deleted_total") < 4 and time.monotonic() < deadline:
        worker.run(max_batches=1)  # the copies come back after their backoff
    assert effects == [str(envelope.id)]
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 4
    assert depth(queue) == (0, 0)
    assert counter(worker.metrics, "sqs_messages_duplicate_total") == 3
    assert counter(worker.metrics, "sqs_messages_retried_total") == 3  # once, while in progress


def test_a_failed_idempotent_run_does_not_block_its_retry(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = quick_settings(retry_base_seconds=0)
    worker = Worker(queue, registry, settings, Metrics(), MemoryStore())
    attempts: list[int] = []

    @registry.handler("charge", idempotent=True)
    def charge(payload: dict[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("card network down")

    send(queue, "charge")
    for _ in range(3):
        worker.run(max_batches=1)
    assert len(attempts) == 2
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 1


def test_shutdown_waits_for_the_running_handler_up_to_its_deadline(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    worker = Worker(queue, registry, quick_settings(shutdown_timeout_seconds=0.5), Metrics())
    finished: list[int] = []

    def slow(payload: dict[str, Any]) -> None:
        worker.stop()  # SIGTERM arrives while this handler runs
        time.sleep(payload["seconds"])
        finished.append(payload["seconds"])

    registry.register("job", slow)
    send(queue, seconds=0.2)
    worker.run()
    assert finished == [0.2]  # finished within the deadline: handled and deleted
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 1

    worker = Worker(queue, registry, quick_settings(shutdown_timeout_seconds=0.5), Metrics())
    send(queue, seconds=3)
    started = time.monotonic()
    worker.run()
    assert time.monotonic() - started < 2  # did not wait for the 3 s handler
    assert counter(worker.metrics, "sqs_handlers_abandoned_total") == 1
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 0


def test_failed_entries_are_retried_and_sender_faults_are_not() -> None:
    calls: list[list[str]] = []

    def flaky(chunk: Sequence[str]) -> list[EntryFailure]:
        calls.append(list(chunk))
        failures = []
        for index, item in enumerate(chunk):
            if item == "bad":
                failures.append(EntryFailure(str(index), "ReceiptHandleIsInvalid", "", True))
            elif item == "slow" and len(calls) == 1:
                failures.append(EntryFailure(str(index), "InternalError", "", False))
        return failures

    items = ["ok", "slow", "bad"] + [f"x{i}" for i in range(9)]
    left = settle_entries(flaky, items, "delete", pause=lambda seconds: None)
    assert left == ["bad"]
    assert [len(c) for c in calls] == [10, 2, 1]  # ten at a time, then only the retry
    assert calls[2] == ["slow"]


def test_entries_that_keep_failing_are_given_up_after_the_attempts() -> None:
    def always(chunk: Sequence[str]) -> list[EntryFailure]:
        return [EntryFailure(str(i), "InternalError", "", False) for i in range(len(chunk))]

    pauses: list[float] = []
    assert settle_entries(always, ["a", "b"], "delete", pause=pauses.append) == ["a", "b"]
    assert pauses == [0.2, 0.4]  # backed off between attempts


def test_a_batch_refused_as_a_whole_is_sent_again_one_message_a_call() -> None:
    calls: list[list[str]] = []

    def send_batch(messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        calls.append([m.body for m in messages])
        if any(m.body == "bad" for m in messages):
            raise AwsRequestError("BatchRequestTooLong", "too long", "SQS")
        return BatchSendResult([SendResult(m.id, f"sqs-{m.body}") for m in messages])

    messages = [OutgoingMessage(f"m{n}", body) for n, body in enumerate(["a", "bad", "c"])]
    results = send_all(send_batch, messages, service="SQS", pause=lambda seconds: None)
    assert calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]  # the refused one not again
    assert results["m0"] == SendResult("m0", "sqs-a")
    assert results["m2"] == SendResult("m2", "sqs-c")
    refused = results["m1"]
    assert isinstance(refused, AwsRequestError)
    assert refused.code == "BatchRequestTooLong"


def test_a_crashed_consumers_claim_expires_before_the_redelivery(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    store = MemoryStore()
    settings = quick_settings(retry_base_seconds=0)
    worker = Worker(queue, registry, settings, Metrics(), store)
    effects: list[str] = []

    @registry.handler("charge", idempotent=True)
    def charge(payload: dict[str, Any], envelope: Envelope) -> None:
        effects.append(str(envelope.id))

    envelope = Envelope(type="charge", payload={})
    store.claim(
        f"{queue.name}:charge:{envelope.id}", hold_seconds=5
    )  # a consumer died holding this claim
    enqueue(queue, envelope)
    deadline = time.monotonic() + 12
    while not effects and time.monotonic() < deadline:
        worker.run(max_batches=1)
        time.sleep(0.5)
    assert effects == [str(envelope.id)]  # handled once the short claim lapsed


def test_a_long_handler_keeps_its_claim(queue: SqsQueue, registry: HandlerRegistry) -> None:
    store = MemoryStore()
    worker = Worker(queue, registry, quick_settings(), Metrics(), store)
    seen: list[object] = []

    @registry.handler("charge", idempotent=True)
    def charge(payload: dict[str, Any], envelope: Envelope) -> None:
        time.sleep(7)  # past the five-second minimum claim, which must be renewed
        seen.append(store.claim(f"{queue.name}:charge:{envelope.id}", hold_seconds=5))

    send(queue, "charge")
    worker.run(max_batches=1)
    assert [str(claim) for claim in seen] == ["Claim.IN_PROGRESS"]


def test_an_idempotent_handler_runs_once_per_queue_a_topic_fanned_out_to(
    registry: HandlerRegistry, mocked_aws: None
) -> None:
    store = MemoryStore()
    runs: list[str] = []

    @registry.handler("charge", idempotent=True)
    def charge(payload: dict[str, Any], envelope: Envelope) -> None:
        runs.append(str(envelope.id))

    envelope = Envelope(type="charge", payload={})
    for name in ("billing", "audit"):  # the same envelope, delivered to two subscriptions
        settings = make_settings(queue_name=name, dlq_name=f"{name}-dlq")
        ensure_queues(settings)
        queue = SqsQueue.from_settings(settings)
        enqueue(queue, envelope)
        enqueue(queue, envelope)  # and redelivered within each queue
        Worker(queue, registry, settings, Metrics(), store).run(until_empty=True)
    assert runs == [str(envelope.id)] * 2
