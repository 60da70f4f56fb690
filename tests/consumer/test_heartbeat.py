from __future__ import annotations

from consumer.heartbeat import Heartbeat
from consumer.metrics import Metrics
from shared.aws import ReceivedMessage, SqsQueue
from tests.consumer.conftest import counter, send


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def heartbeat(queue: SqsQueue, clock: Clock) -> Heartbeat:
    return Heartbeat(
        queue,
        Metrics(),
        visibility_timeout=30,
        after_fraction=0.5,
        max_hold_seconds=100,
        clock=clock,
    )


def received(n: int) -> list[ReceivedMessage]:
    return [ReceivedMessage(f"m{i}", f"r{i}", "{}", 1, {}) for i in range(n)]


def test_messages_are_due_after_the_fraction_and_not_after_the_limit(queue: SqsQueue) -> None:
    clock = Clock()
    beat = heartbeat(queue, clock)
    beat.hold(received(2))
    assert beat.due() == []
    clock.now += 15
    assert sorted(beat.due()) == ["r0", "r1"]
    beat.let_go(["r0"])
    assert beat.due() == ["r1"]
    clock.now += 100
    assert beat.due() == []  # held too long: left for SQS to redeliver


def test_beat_extends_real_messages_and_survives_stale_receipts(queue: SqsQueue) -> None:
    for n in range(12):
        send(queue, n=n)
    messages = queue.receive(max_messages=10, wait_time_seconds=0)
    messages += queue.receive(max_messages=10, wait_time_seconds=0)
    assert len(messages) == 12
    clock = Clock()
    beat = heartbeat(queue, clock)
    beat.hold([*messages, ReceivedMessage("gone", "invalid-receipt", "{}", 1, {})])
    clock.now += 16
    assert beat.beat() == 12  # two calls of up to ten; the bad receipt is reported, not fatal
    assert counter(beat.metrics, "sqs_visibility_extended_total") == 12
    assert sorted(beat.due()) == ["invalid-receipt"]
