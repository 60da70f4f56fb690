from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import boto3
import pytest
from pydantic import BaseModel
from typing_extensions import override

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry, PermanentError
from consumer.worker import SHORT_POLL_PAUSE_SECONDS, Worker
from scripts.processes import free_port
from shared.aws import BatchSendResult, OutgoingMessage, ReceivedMessage, SqsQueue
from shared.aws.limits import SQS_MAX_BATCH_BYTES
from shared.messages.dead_letter import DeadLetterRecord
from shared.messages.envelope import Envelope
from shared.messages.status_events import Stage, StatusEvent
from shared.settings import Settings
from shared.topology.queues import QueuePair
from shared.topology.resources import ensure_queues
from tests.conftest import make_settings
from tests.consumer.conftest import counter, send
from tests.support import enqueue


class EventList:
    def __init__(self) -> None:
        self.events: list[StatusEvent] = []

    def publish(self, event: StatusEvent) -> None:
        self.events.append(event)


def depth(queue: SqsQueue) -> tuple[int, int]:
    """(visible, in flight) messages in the queue."""
    counts = queue.depth()
    return counts.visible, counts.in_flight


def test_handled_messages_are_deleted(
    worker: Worker, queue: SqsQueue, registry: HandlerRegistry
) -> None:
    handled: list[int] = []
    registry.register("job", lambda payload: handled.append(payload["n"]))
    for n in range(25):
        send(queue, n=n)
    worker.run(until_empty=True)
    assert sorted(handled) == list(range(25))
    assert depth(queue) == (0, 0)
    assert counter(worker.metrics, "sqs_messages_received_total") == 25
    assert counter(worker.metrics, "sqs_messages_processed_total", handler="job") == 25
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 25


def test_a_failing_handler_is_retried_after_a_backoff(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.retry_base_seconds = 1.0
    worker = Worker(queue, registry, settings, Metrics())
    attempts: list[float] = []

    def flaky(payload: dict[str, Any]) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("transient")

    registry.register("job", flaky)
    send(queue, n=7)
    worker.run(max_batches=1)
    assert len(attempts) == 1
    assert depth(queue) == (0, 1)  # invisible for the backoff, not deleted
    assert counter(worker.metrics, "sqs_messages_failed_total", reason="handler_error") == 1
    assert counter(worker.metrics, "sqs_messages_retried_total") == 1
    deadline = time.monotonic() + 5
    while len(attempts) < 2 and time.monotonic() < deadline:
        worker.run(max_batches=1)
    assert len(attempts) == 2
    assert 0.9 <= attempts[1] - attempts[0] <= 3
    assert depth(queue) == (0, 0)
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 1


def dead_letters(dlq_url: str) -> list[dict[str, Any]]:
    client = boto3.client("sqs", region_name="us-east-1")
    response = client.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    messages: list[Any] = response.get("Messages", [])
    return messages


def record_of(message: dict[str, Any]) -> DeadLetterRecord:
    record = DeadLetterRecord.of(message["MessageAttributes"])
    assert record is not None, "a dead letter of ours carries its record"
    return record


def reason_of(message: dict[str, Any]) -> str:
    return record_of(message).reason


def test_a_message_that_always_fails_is_dead_lettered_with_its_error(
    queues: QueuePair, registry: HandlerRegistry
) -> None:
    settings = make_settings(max_receive_count=2)
    settings.consumer.retry_base_seconds = 0
    ensure_queues(settings)
    queue = SqsQueue.from_settings(settings)
    worker = Worker(queue, registry, settings, Metrics())

    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("poison pill")

    registry.register("job", broken)
    sent = Envelope(type="job", payload={}, attributes={"tenant": "acme"})
    enqueue(queue, sent)
    for _ in range(4):
        worker.run(max_batches=1)
    assert counter(worker.metrics, "sqs_messages_failed_total", reason="handler_error") == 2
    assert depth(queue) == (0, 0)
    [dead] = dead_letters(queues.dlq_url)
    assert Envelope.from_body(dead["Body"]) == sent  # the body is untouched
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    record = record_of(dead)
    assert record.reason == "retries_exhausted"
    assert "RuntimeError: poison pill" in record.error
    assert record.receive_count == 2
    assert record.source_queue == "messages"
    assert attributes["tenant"] == "acme"
    assert attributes["type"] == "job"
    labels = {"reason": "retries_exhausted"}
    assert counter(worker.metrics, "sqs_messages_dead_lettered_total", **labels) == 1


class Order(BaseModel):
    order_id: str


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "no_handler"),  # text, without a type or a default handler
        ('{"type": "job", "payload": []}', "invalid_body"),  # an envelope, broken
        (Envelope(type="order", payload={"amount": 1}).to_body(), "invalid_payload"),
        (Envelope(type="unknown.type", payload={}).to_body(), "no_handler"),
        (Envelope(type="permanent", payload={}).to_body(), "permanent_error"),
    ],
)
def test_what_retrying_cannot_fix_goes_to_the_dead_letter_queue_at_once(
    worker: Worker,
    queue: SqsQueue,
    queues: QueuePair,
    registry: HandlerRegistry,
    body: str,
    reason: str,
) -> None:
    registry.set_default(None)

    def order(payload: Order) -> None:
        raise AssertionError("must not run with an invalid payload")

    def permanent(payload: dict[str, Any]) -> None:
        raise PermanentError("account closed")

    registry.register("order", order)
    registry.register("permanent", permanent)
    queue.client.send_message(QueueUrl=queue.url, MessageBody=body)
    send(queue, "job.ok")
    registry.register("job.ok", lambda payload: None)
    worker.run(until_empty=True)
    assert depth(queue) == (0, 0)  # moved on the first receive, and the loop went on
    [dead] = dead_letters(queues.dlq_url)
    assert dead["Body"] == body
    assert reason_of(dead) == reason
    assert record_of(dead).receive_count == 1
    assert counter(worker.metrics, "sqs_messages_processed_total", handler="job.ok") == 1


def test_a_dead_letter_the_dlq_refuses_stays_in_the_source_queue(
    queue: SqsQueue, queues: QueuePair, registry: HandlerRegistry
) -> None:
    queue.client.delete_queue(QueueUrl=queues.dlq_url)  # still named by the RedrivePolicy
    worker = Worker(queue, registry, make_settings(), Metrics())
    queue.client.send_message(QueueUrl=queue.url, MessageBody='{"type": "", "payload": {}}')
    worker.run(max_batches=1)
    assert depth(queue) == (0, 1)  # not deleted: it was never stored elsewhere
    assert counter(worker.metrics, "sqs_ack_failures_total") == 1
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 0


class BatchWatchingQueue(SqsQueue):
    """The real queue, keeping the total size of every SendMessageBatch sent to it."""

    def __init__(self, base: SqsQueue) -> None:
        super().__init__(base.client, base.name)
        self.batch_bytes: list[int] = []

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        self.batch_bytes.append(sum(message.size for message in messages))
        return super().send_batch(messages)


def test_four_600kb_bad_messages_reach_the_dlq_on_their_first_receive(
    queue: SqsQueue, queues: QueuePair, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.ack_window_ms = 1000  # the four outcomes are settled together
    events = EventList()
    worker = Worker(queue, registry, settings, Metrics(), events=events)
    dlq = BatchWatchingQueue(worker.acknowledger.dlq)  # type: ignore[arg-type]
    worker.acknowledger.dlq = dlq

    def order(payload: Order) -> None:
        raise AssertionError("must not run with an invalid payload")

    registry.register("order", order)
    bad = [Envelope(type="order", payload={"note": "x" * 600_000}) for _ in range(4)]
    for envelope in bad:
        enqueue(queue, envelope)
    worker.run(max_batches=1)

    assert dlq.batch_bytes, "no dead-letter send was made"
    assert max(dlq.batch_bytes) <= SQS_MAX_BATCH_BYTES  # moto refuses more, as SQS does
    assert depth(queue) == (0, 0)
    dead = dead_letters(queues.dlq_url)
    assert sorted(Envelope.from_body(m["Body"]).id for m in dead) == sorted(e.id for e in bad)
    assert {record_of(m).receive_count for m in dead} == {1}
    assert {reason_of(m) for m in dead} == {"invalid_payload"}
    dead_events = [e for e in events.events if e.stage is Stage.DEAD]
    assert sorted(e.id for e in dead_events) == sorted(e.id for e in bad)  # once each
    labels = {"reason": "invalid_payload"}
    assert counter(worker.metrics, "sqs_messages_dead_lettered_total", **labels) == 4
    assert counter(worker.metrics, "sqs_ack_failures_total") == 0


def test_a_dead_letter_the_dlq_refused_is_failed_not_dead(
    queue: SqsQueue, queues: QueuePair, registry: HandlerRegistry
) -> None:
    queue.client.delete_queue(QueueUrl=queues.dlq_url)
    events = EventList()
    worker = Worker(queue, registry, make_settings(), Metrics(), events=events)

    def refuse(payload: dict[str, Any]) -> None:
        raise PermanentError("no")

    registry.register("order", refuse)
    enqueue(queue, Envelope(type="order", payload={}))
    worker.run(max_batches=1)
    assert [e.stage for e in events.events] == [Stage.RECEIVED, Stage.PROCESSING, Stage.FAILED]
    error = events.events[-1].error or ""
    assert error.startswith("permanent_error: PermanentError: no")
    assert "dead-letter queue did not take it" in error


def test_the_default_handler_logs_and_acknowledges(
    worker: Worker, queue: SqsQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    sent = send(queue, "anything.at.all", hello="world")
    worker.run(until_empty=True)
    assert str(sent.id) in caplog.text
    assert '"hello":"world"' in caplog.text
    assert depth(queue) == (0, 0)


def test_stopping_finishes_the_running_handler_and_releases_the_prefetched_rest(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.concurrency = 1
    settings.consumer.prefetch = 4  # five held: one running, four waiting for the handler
    worker = Worker(queue, registry, settings, Metrics())
    handled: list[int] = []

    def stop_after_first(payload: dict[str, Any]) -> None:
        handled.append(payload["n"])
        worker.stop()

    registry.register("job", stop_after_first)
    enqueue(queue, *(Envelope(type="job", payload={"n": n}) for n in range(5)))
    worker.run()
    assert len(handled) == 1
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 1
    assert counter(worker.metrics, "sqs_messages_released_total") == 4
    assert depth(queue) == (4, 0)  # visible again at once, not after the timeout


def test_an_unreachable_endpoint_is_retried_with_backoff(registry: HandlerRegistry) -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=0.2
    )
    worker = Worker(SqsQueue.from_settings(settings), registry, settings, Metrics())
    stopper = threading.Timer(1.5, worker.stop)
    stopper.start()
    started = time.monotonic()
    worker.run()
    stopper.join()
    errors = counter(worker.metrics, "sqs_receive_errors_total")
    assert 2 <= errors <= 8  # retried, but backing off rather than spinning
    assert time.monotonic() - started < 5  # a stop is honoured during the backoff


class HangingQueue(SqsQueue):
    """A queue whose receive call never comes back in time, like a stuck connection."""

    @override
    def receive(
        self, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        time.sleep(1.0)
        return []


def test_health_turns_false_when_receives_stop_completing(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.stale_after_seconds = 0.3
    worker = Worker(HangingQueue(queue.client, queue.name), registry, settings, Metrics())
    assert not worker.is_healthy()  # not running yet
    runner = threading.Thread(target=worker.run, kwargs={"max_batches": 2})
    runner.start()
    time.sleep(0.1)
    healthy_at_start = worker.is_healthy()
    time.sleep(0.5)
    stalled = worker.is_healthy()
    worker.stop()
    runner.join(5)
    assert (healthy_at_start, stalled) == (True, False)


def test_a_long_running_handler_is_busy_not_stalled(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.stale_after_seconds = 0.3
    worker = Worker(queue, registry, settings, Metrics())
    seen: list[bool] = []

    def slow(payload: dict[str, Any]) -> None:
        time.sleep(0.6)
        seen.append(worker.is_healthy())

    registry.register("job", slow)
    send(queue)
    worker.run(max_batches=1)
    assert seen == [True]


def test_handlers_run_concurrently_up_to_the_limit_and_no_further(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.concurrency = 4
    settings.consumer.prefetch = 0
    worker = Worker(queue, registry, settings, Metrics())
    lock = threading.Lock()
    running: list[int] = [0]
    peak: list[int] = [0]
    held_by_sqs: list[int] = []
    held_by_worker: list[int] = []

    def slow(payload: dict[str, Any]) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        held_by_sqs.append(depth(queue)[1])
        held_by_worker.append(worker.slots.busy)
        time.sleep(0.2)
        with lock:
            running[0] -= 1

    registry.register("job", slow)
    enqueue(queue, *(Envelope(type="job", payload={"n": n}) for n in range(10)))
    enqueue(queue, *(Envelope(type="job", payload={"n": n}) for n in range(10, 12)))
    started = time.monotonic()
    worker.run(until_empty=True)
    elapsed = time.monotonic() - started
    assert peak[0] == 4
    assert max(held_by_worker) <= 4  # never more received than handlers to run them
    # in flight at SQS: those running, plus handled ones whose batched delete is on its way
    assert max(held_by_sqs) <= 8
    assert elapsed < 12 * 0.2  # faster than one at a time
    assert counter(worker.metrics, "sqs_messages_deleted_total") == 12
    assert depth(queue) == (0, 0)


def test_several_pollers_share_the_work(queue: SqsQueue, registry: HandlerRegistry) -> None:
    settings = make_settings()
    settings.consumer.pollers = 3
    worker = Worker(queue, registry, settings, Metrics())
    pollers: set[str] = set()
    handled: set[int] = set()
    registry.register("job", lambda payload: handled.add(payload["n"]))
    original = queue.receive

    def receive(
        *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        pollers.add(threading.current_thread().name)
        return original(
            max_messages=max_messages,
            wait_time_seconds=wait_time_seconds,
            visibility_timeout=visibility_timeout,
        )

    queue.receive = receive  # type: ignore[method-assign]
    for start in range(0, 30, 10):
        enqueue(queue, *(Envelope(type="job", payload={"n": n}) for n in range(start, start + 10)))
    stopper = threading.Timer(1.0, worker.stop)
    stopper.start()
    worker.run()
    stopper.join()
    assert len(pollers) == 3
    assert handled == set(range(30))
    assert depth(queue) == (0, 0)


def test_dead_letters_go_to_the_queue_its_redrive_policy_names(
    queue: SqsQueue, queues: QueuePair, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.sqs.dlq_name = "some-other-dlq"  # a subscription queue has its own DLQ
    worker = Worker(queue, registry, settings, Metrics())
    broken = '{"type": "", "payload": {}}'
    queue.client.send_message(QueueUrl=queue.url, MessageBody=broken)
    worker.run(until_empty=True)
    assert [m["Body"] for m in dead_letters(queues.dlq_url)] == [broken]


def test_short_polling_an_empty_queue_pauses_between_receives(
    queue: SqsQueue, registry: HandlerRegistry, settings: Settings
) -> None:
    worker = Worker(queue, registry, settings, Metrics())  # SQS_WAIT_TIME_SECONDS=0
    calls: list[float] = []
    original = queue.receive

    def counting(
        *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        calls.append(time.monotonic())
        return original(
            max_messages=max_messages,
            wait_time_seconds=wait_time_seconds,
            visibility_timeout=visibility_timeout,
        )

    queue.receive = counting  # type: ignore[method-assign]
    thread = threading.Thread(target=worker.run)
    thread.start()
    time.sleep(0.5)
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert 1 <= len(calls) <= 0.5 / SHORT_POLL_PAUSE_SECONDS + 2  # not hundreds
