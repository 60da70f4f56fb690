"""`consumer.testing`: the real worker over in-memory queues, and those queues against moto."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from consumer.idempotency import MemoryStore
from consumer.memory_queue import MemoryBroker
from consumer.queue import Queue
from consumer.registry import HandlerRegistry, PermanentError
from consumer.testing import TestConsumer
from shared.aws import AwsRequestError, OutgoingMessage, SqsQueue
from shared.aws.limits import SQS_MAX_BATCH_BYTES
from shared.messages.dead_letter import Reason
from shared.messages.status_events import Stage
from shared.topology.queues import ensure_queue_pair
from tests.conftest import make_settings


class Order(BaseModel):
    order_id: str
    amount: float


def test_a_type_no_handler_takes_is_dead_lettered_though_the_registry_has_a_default() -> None:
    registry = HandlerRegistry()  # with its default handler, which acknowledges anything
    registry.register("order.created", lambda order: None)
    consumer = TestConsumer(registry)
    consumer.send("order.cancelled", {"order_id": "A-1"})
    [dead] = consumer.drain().dead
    assert dead.reason == "no_handler"
    assert "order.cancelled" in (dead.error or "")


def test_the_default_handler_runs_when_asked_for() -> None:
    consumer = TestConsumer(HandlerRegistry(), default_handler=True)
    sent = consumer.send("order.cancelled", {"order_id": "A-1"})
    assert consumer.drain().done == [str(sent.id)]


def test_a_handler_registered_after_the_test_consumer_is_made_still_runs() -> None:
    registry = HandlerRegistry()
    consumer = TestConsumer(registry)
    seen: list[str] = []
    registry.register("late", lambda payload: seen.append(payload["n"]))
    consumer.send("late", {"n": "1"})
    consumer.drain()
    assert seen == ["1"]


def test_a_handler_runs_once_per_message_and_each_is_done() -> None:
    registry = HandlerRegistry()
    seen: list[str] = []
    registry.register("order.created", lambda order: seen.append(order["order_id"]))
    consumer = TestConsumer(registry)
    sent = [consumer.send("order.created", {"order_id": f"A-{n}"}) for n in range(25)]
    result = consumer.drain()
    assert sorted(seen) == sorted(f"A-{n}" for n in range(25))
    assert sorted(result.done) == sorted(str(e.id) for e in sent)
    assert result.dead == []
    assert result.waiting == 0
    assert result.receives == 25


def test_retries_come_at_once_with_the_receive_count_and_end_in_the_dead_letter_queue() -> None:
    registry = HandlerRegistry()
    attempts: list[int] = []

    def flaky(order: Order, envelope: Any) -> None:
        attempts.append(1)
        if order.order_id == "never" or len(attempts) < 3:
            raise RuntimeError(f"{order.order_id} failed")

    registry.register("order.created", flaky)
    settings = make_settings(max_receive_count=4)
    settings.consumer.retry_base_seconds = 60.0  # minutes of backoff, all virtual
    consumer = TestConsumer(registry, settings=settings)
    consumer.send("order.created", {"order_id": "flaky", "amount": 1})
    started = time.monotonic()
    result = consumer.drain()
    assert time.monotonic() - started < 10
    assert len(attempts) == 3
    assert len(result.done) == 1
    consumer.send("order.created", {"order_id": "never", "amount": 1})
    result = consumer.drain()
    assert [d.reason for d in result.dead] == [Reason.RETRIES_EXHAUSTED]
    assert result.dead[0].receive_count == 4
    assert result.dead[0].error == "RuntimeError: never failed"
    assert result.receives == 4
    failed = [e for e in consumer.events if e.stage is Stage.FAILED]
    assert [e.attempt for e in failed][-3:] == [1, 2, 3]


def test_each_reason_a_message_can_die_for() -> None:
    registry = HandlerRegistry(default=None)

    def refuse(order: Order) -> None:
        raise PermanentError("currency not supported")

    registry.register("order.created", refuse)
    consumer = TestConsumer(registry)
    consumer.send("order.created", {"order_id": "A-1", "amount": 2})
    consumer.send("order.created", {"order_id": 7})
    consumer.send("unknown.type", {})
    consumer.send_body('{"type": "order.created", "payload": "not an object"}')
    reasons = sorted(str(d.reason) for d in consumer.drain().dead)
    assert reasons == ["invalid_body", "invalid_payload", "no_handler", "permanent_error"]


def test_large_bad_messages_die_on_their_first_receive() -> None:
    registry = HandlerRegistry()

    def parse_order(order: Order) -> None:
        raise AssertionError("must not run with an invalid payload")

    registry.register("order.checked", parse_order)
    consumer = TestConsumer(registry)
    sent = [consumer.send("order.checked", {"note": "x" * 600_000}) for _ in range(4)]
    result = consumer.drain()
    assert sorted(str(d.envelope_id) for d in result.dead) == sorted(str(e.id) for e in sent)
    assert {d.receive_count for d in result.dead} == {1}
    assert result.receives == 4
    assert [e.stage for e in consumer.events].count(Stage.DEAD) == 4


def test_an_idempotent_handler_skips_a_redelivered_envelope() -> None:
    registry = HandlerRegistry()
    runs: list[str] = []
    registry.register("pay", lambda p: runs.append(p["id"]), idempotent=True)
    consumer = TestConsumer(registry, store=MemoryStore())
    envelope = consumer.send("pay", {"id": "p-1"})
    consumer.send_envelope(envelope)  # the same envelope again, as a retrying producer would
    result = consumer.drain()
    assert runs == ["p-1"]
    assert result.done == [str(envelope.id), str(envelope.id)]


def test_fifo_groups_keep_their_order_through_a_retry() -> None:
    registry = HandlerRegistry()
    order: list[tuple[str, int]] = []
    failed_once: set[int] = set()

    def step(payload: dict[str, Any]) -> None:
        if payload["n"] == 1 and 1 not in failed_once:
            failed_once.add(1)
            raise RuntimeError("first try of step 1")
        order.append((payload["g"], payload["n"]))

    registry.register("step", step)
    settings = make_settings(queue_name="jobs.fifo", dlq_name="jobs-dlq.fifo")
    consumer = TestConsumer(registry, settings=settings, queue_name="jobs.fifo")
    for n in range(4):
        for group in ("a", "b"):
            consumer.send("step", {"g": group, "n": n}, group_id=group)
    consumer.drain()
    for group in ("a", "b"):
        assert [n for g, n in order if g == group] == [0, 1, 2, 3]


# The in-memory queue against moto's SQS: the same calls, the same answers.


@pytest.fixture(params=["memory", "moto"])
def backend(request: pytest.FixtureRequest, mocked_aws: None) -> Iterator[Queue]:
    settings = make_settings(max_receive_count=2, visibility_timeout=30)
    if request.param == "memory":
        broker = MemoryBroker(visibility_timeout=30, max_receive_count=2)
        yield broker.queue("q", dead_letter_queue="q-dlq")
        return
    queue = SqsQueue.from_settings(settings, queue_name="q")
    ensure_queue_pair(queue.client, "q", "q-dlq", settings.sqs)
    yield queue


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        str(n), f'{{"n": {n}}}', {"k": {"DataType": "String", "StringValue": "v"}}
    )


def test_both_queues_hide_count_and_delete_alike(backend: Queue) -> None:
    sent = backend.send_batch([message(n) for n in range(3)])
    assert sorted(ok.entry_id for ok in sent.sent) == ["0", "1", "2"]
    assert sent.failed == []
    first = backend.receive(max_messages=10, wait_time_seconds=0)
    assert len(first) == 3
    assert {m.receive_count for m in first} == {1}
    assert first[0].attributes == {"k": {"DataType": "String", "StringValue": "v"}}
    assert backend.receive(max_messages=10, wait_time_seconds=0) == []  # hidden
    back = backend.change_visibility([(first[0].receipt_handle, 0)])
    assert back == []
    again = backend.receive(max_messages=10, wait_time_seconds=0)
    assert [m.message_id for m in again] == [first[0].message_id]
    assert again[0].receive_count == 2
    failures = backend.delete_batch([again[0].receipt_handle, "not-a-receipt-handle"])
    assert [(f.entry_id, f.sender_fault) for f in failures] == [("1", True)]


def test_both_queues_refuse_a_batch_over_one_mib_as_a_whole(backend: Queue) -> None:
    assert backend.max_message_size() == SQS_MAX_BATCH_BYTES
    with pytest.raises(AwsRequestError):
        backend.send_batch([OutgoingMessage(str(n), "x" * 600_000) for n in range(2)])
    assert backend.receive(max_messages=10, wait_time_seconds=0) == []


def test_both_queues_redrive_after_max_receive_count(backend: Queue) -> None:
    backend.send_batch([message(1)])
    for _ in range(2):
        (received,) = backend.receive(max_messages=1, wait_time_seconds=0)
        backend.change_visibility([(received.receipt_handle, 0)])
    assert backend.receive(max_messages=1, wait_time_seconds=0) == []
    dlq = backend.sibling("q-dlq")
    moved = dlq.receive(max_messages=10, wait_time_seconds=0)
    assert [m.body for m in moved] == ['{"n": 1}']
    assert "RedrivePolicy" in backend.attributes("RedrivePolicy")


def test_an_envelope_with_a_created_at_without_a_zone_is_handled_as_utc() -> None:
    """Found by reading the docs: a naive time broke the latency of `done` and `dead`."""
    registry = HandlerRegistry()
    registry.register("t", lambda payload: None)
    consumer = TestConsumer(registry)
    consumer.send_body('{"type": "t", "payload": {}, "created_at": "2026-01-01T12:00:00"}')
    result = consumer.drain()
    assert len(result.done) == 1
    assert result.dead == []
    (done,) = [e for e in consumer.events if e.stage is Stage.DONE]
    assert done.latency_ms is not None
    assert done.latency_ms > 0


def test_a_fifo_queues_dead_letters_keep_their_group_in_a_fifo_dead_letter_queue() -> None:
    registry = HandlerRegistry(default=None)
    consumer = TestConsumer(registry, queue_name="jobs.fifo")
    assert consumer.dlq_name == "jobs-dlq.fifo"
    consumer.send("nobody.handles.this", {}, group_id="account-7")
    assert consumer.dlq.received() == []
    consumer.drain()
    (dead,) = consumer.dlq.received()
    assert dead.group_id == "account-7"


def test_every_log_line_about_a_failed_message_leads_with_its_envelope_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = HandlerRegistry(default=None)

    @registry.handler("order.created")
    def fails(order: Order) -> None:
        raise RuntimeError("card declined")

    consumer = TestConsumer(registry, settings=make_settings(max_receive_count=2))
    sent = consumer.send("order.created", {"order_id": "A-1", "amount": 1})
    with caplog.at_level("INFO"):
        [dead] = consumer.drain().dead
    about = [
        r.getMessage()
        for r in caplog.records
        if "failed on" in r.getMessage() or "dead-letter queue" in r.getMessage()
    ]
    assert len(about) == 3  # two failures, then the dead letter
    for line in about:
        assert f"message {sent.id} (SQS " in line, line
    assert dead.reason == "retries_exhausted"
