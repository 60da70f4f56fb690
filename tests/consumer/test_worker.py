from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry
from consumer.worker import Worker
from shared.bootstrap import QueuePair, ensure_queues
from shared.models import Envelope
from shared.sqs import SqsQueue
from tests.conftest import make_settings
from tests.consumer.conftest import counter, send
from tests.support import free_port


def depth(queue: SqsQueue) -> tuple[int, int]:
    """(visible, in flight) messages in the queue."""
    attributes = queue.attributes(
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
    )
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


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


def test_a_failing_handler_leaves_the_message_for_another_try(
    worker: Worker, queue: SqsQueue, registry: HandlerRegistry
) -> None:
    attempts: list[int] = []

    def flaky(payload: dict[str, Any]) -> None:
        attempts.append(payload["n"])
        if len(attempts) == 1:
            raise RuntimeError("transient")

    registry.register("job", flaky)
    send(queue, n=7)
    worker.run(max_batches=1)
    assert attempts == [7]
    assert depth(queue) == (0, 1)  # invisible, not deleted
    assert counter(worker.metrics, "sqs_messages_failed_total", reason="handler_error") == 1
    time.sleep(1.1)  # the test queue's visibility timeout is one second
    worker.run(until_empty=True)
    assert attempts == [7, 7]
    assert depth(queue) == (0, 0)


def test_a_message_that_always_fails_ends_in_the_dead_letter_queue(
    queues: QueuePair, registry: HandlerRegistry
) -> None:
    settings = make_settings(max_receive_count=2)
    ensure_queues(settings)
    queue = SqsQueue.from_settings(settings)
    worker = Worker(queue, registry, settings, Metrics())

    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("poison")

    registry.register("job", broken)
    sent = send(queue, n=1)
    for _ in range(3):
        worker.run(max_batches=1)
        time.sleep(1.1)
    assert counter(worker.metrics, "sqs_messages_failed_total", reason="handler_error") == 2
    assert depth(queue) == (0, 0)
    dlq = boto3.client("sqs", region_name="us-east-1")
    dead = dlq.receive_message(QueueUrl=queues.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [Envelope.from_body(m["Body"]).id for m in dead] == [sent.id]


def test_a_body_that_is_not_an_envelope_never_stops_the_loop(
    worker: Worker, queue: SqsQueue, registry: HandlerRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[int] = []
    registry.register("job", lambda payload: handled.append(payload["n"]))
    queue.client.send_message(QueueUrl=queue.url, MessageBody="this is not json")
    queue.client.send_message(QueueUrl=queue.url, MessageBody='{"type": "job"}')
    send(queue, n=1)
    worker.run(max_batches=1)
    assert handled == [1]
    assert counter(worker.metrics, "sqs_messages_failed_total", reason="invalid_body") == 2
    assert depth(queue) == (0, 2)  # left for redelivery and, in the end, the DLQ
    assert "not a valid envelope" in caplog.text


def test_without_a_default_handler_unknown_types_fail(
    worker: Worker, queue: SqsQueue, registry: HandlerRegistry
) -> None:
    registry.set_default(None)
    send(queue, "unknown.type")
    worker.run(max_batches=1)
    assert counter(worker.metrics, "sqs_messages_failed_total", reason="no_handler") == 1
    assert depth(queue) == (0, 1)


def test_the_default_handler_logs_and_acknowledges(
    worker: Worker, queue: SqsQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    sent = send(queue, "anything.at.all", hello="world")
    worker.run(until_empty=True)
    assert str(sent.id) in caplog.text
    assert '"hello":"world"' in caplog.text
    assert depth(queue) == (0, 0)


def test_stopping_mid_batch_finishes_the_current_message_and_releases_the_rest(
    worker: Worker, queue: SqsQueue, registry: HandlerRegistry
) -> None:
    handled: list[int] = []

    def stop_after_first(payload: dict[str, Any]) -> None:
        handled.append(payload["n"])
        worker.stop()

    registry.register("job", stop_after_first)
    queue.send_batch([Envelope(type="job", payload={"n": n}) for n in range(5)])
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


def test_health_turns_false_when_receives_stop_completing(
    queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings()
    settings.consumer.stale_after_seconds = 0.3
    worker = Worker(queue, registry, settings, Metrics())
    assert not worker.is_healthy()  # not running yet
    seen: list[bool] = []

    def slow(payload: dict[str, Any]) -> None:
        seen.append(worker.is_healthy())
        time.sleep(0.5)
        seen.append(worker.is_healthy())
        worker.stop()

    registry.register("job", slow)
    send(queue)
    worker.run()
    assert seen == [True, False]
