"""Coalescing concurrent sends: batching by count, size and time, with per-message results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from functools import partial

import boto3
import pytest
from typing_extensions import override

from producer.sending.batcher import SendBatcher
from producer.sending.sender import make_sender
from shared.aws import (
    AwsRequestError,
    AwsUnavailableError,
    BatchSendResult,
    EntryFailure,
    OutgoingMessage,
    SendResult,
    SnsTopic,
    SqsQueue,
)
from shared.aws.batching import send_all
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.queues import QueuePair


class CountingQueue(SqsQueue):
    """The real queue, recording the size of every SendMessageBatch call."""

    def __init__(self, base: SqsQueue) -> None:
        super().__init__(base.client, base.name)
        self.batches: list[int] = []

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        self.batches.append(len(messages))
        return super().send_batch(messages)


@pytest.fixture
def queue(settings: Settings, queues: QueuePair) -> CountingQueue:
    return CountingQueue(SqsQueue.from_settings(settings))


def make_batcher(queue: SqsQueue, window: float, max_wait: float | None = None) -> SendBatcher:
    """The batcher as the producer builds it for a queue."""
    return SendBatcher(
        partial(send_all, queue.send_batch, service=queue.service),
        service=queue.service,
        size_limit=queue.max_message_size,
        window=window,
        max_in_flight=4,
        max_wait=max_wait,
    )


def outgoing(queue: SqsQueue, n: int, text: str = "") -> OutgoingMessage:
    message = Envelope(type="t", payload={"n": n, "text": text}).outgoing()
    queue.check_size(message)
    return message


def stored_ids(queue: SqsQueue) -> dict[str, str]:
    """envelope id -> MessageId of everything in the queue."""
    found: dict[str, str] = {}
    for _ in range(20):
        batch = queue.receive(max_messages=10, wait_time_seconds=0)
        if not batch:
            break
        found.update((str(Envelope.from_body(m.body).id), m.message_id) for m in batch)
    return found


def test_concurrent_sends_share_batches_and_each_gets_its_own_message_id(
    queue: CountingQueue,
) -> None:
    async def main() -> list[tuple[str, str]]:
        batcher = make_batcher(queue, window=0.05)
        messages = [outgoing(queue, n) for n in range(25)]
        results = await asyncio.gather(*(batcher.send(m) for m in messages))
        return [(r.entry_id, r.message_id) for r in results]

    results = asyncio.run(main())
    assert sorted(queue.batches) == [5, 10, 10]
    assert dict(results) == stored_ids(queue)
    assert len(set(dict(results).values())) == 25


def test_a_batch_never_passes_the_queue_size_limit(queue: CountingQueue, queues: QueuePair) -> None:
    boto3.client("sqs", region_name="us-east-1").set_queue_attributes(
        QueueUrl=queues.queue_url, Attributes={"MaximumMessageSize": "2048"}
    )

    async def main() -> None:
        batcher = make_batcher(queue, window=0.05)
        await asyncio.gather(*(batcher.send(outgoing(queue, n, "x" * 600)) for n in range(6)))

    asyncio.run(main())
    assert queue.batches == [2, 2, 2]  # three 870-byte messages would pass 2048


def test_a_lone_message_waits_no_longer_than_the_window(queue: CountingQueue) -> None:
    async def main() -> float:
        batcher = make_batcher(queue, window=0.05)
        started = time.perf_counter()
        await batcher.send(outgoing(queue, 1))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    assert 0.05 <= elapsed < 0.5
    assert queue.batches == [1]


class SlowQueue(CountingQueue):
    """SQS at a distance: every SendMessageBatch takes `delay` seconds."""

    def __init__(self, base: SqsQueue, delay: float) -> None:
        super().__init__(base)
        self.delay = delay
        self.started = 0

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        self.started += 1
        time.sleep(self.delay)
        return super().send_batch(messages)


def test_a_batch_due_while_a_send_is_in_flight_gathers_until_it_returns(
    queue: CountingQueue,
) -> None:
    slow = SlowQueue(queue, delay=0.15)

    async def main() -> None:
        batcher = make_batcher(slow, window=0.005, max_wait=1.0)
        sends = []
        for n in range(8):  # one message every 20 ms: four windows pass per round trip
            sends.append(asyncio.create_task(batcher.send(outgoing(queue, n))))
            await asyncio.sleep(0.02)
        await asyncio.gather(*sends)

    asyncio.run(main())
    assert slow.batches[0] == 1  # nothing in flight: the first goes after its window
    assert slow.batches[1] >= 5  # the rest waited for the first round trip, together
    assert sum(slow.batches) == 8
    assert len(stored_ids(queue)) == 8


def test_a_due_batch_waits_for_every_send_in_flight_not_just_the_first_to_return(
    queue: CountingQueue,
) -> None:
    """Under load the clients a returning send answers come back at once with more: a
    partial batch flushed by the first return would leave them the next call to themselves."""
    slow = SlowQueue(queue, delay=0.6)

    async def main() -> None:
        batcher = make_batcher(slow, window=0.005, max_wait=2.0)
        sends = [asyncio.create_task(batcher.send(outgoing(queue, n))) for n in range(10)]
        await asyncio.sleep(0.2)
        sends += [asyncio.create_task(batcher.send(outgoing(queue, n))) for n in range(10, 20)]
        await asyncio.sleep(0.2)  # two full batches in flight, returning at 0.6 s and 0.8 s
        sends += [asyncio.create_task(batcher.send(outgoing(queue, n))) for n in range(20, 22)]
        await asyncio.sleep(0.3)  # the first has returned; the second is still out
        sends += [asyncio.create_task(batcher.send(outgoing(queue, n))) for n in range(22, 25)]
        await asyncio.gather(*sends)

    asyncio.run(main())
    assert slow.batches == [10, 10, 5]
    assert len(stored_ids(queue)) == 25


def test_clients_a_returning_send_answered_join_the_batch_that_waited_for_it(
    queue: CountingQueue,
) -> None:
    """Twelve clients, each sending its next message once the last is answered, as the
    bench's do: flushed the moment the send in flight returned, the two left over went out
    alone each round ([10, 2, 10, 2, ...]); given one window, the answered come back into it."""
    slow = SlowQueue(queue, delay=0.1)

    async def main() -> None:
        batcher = make_batcher(slow, window=0.02, max_wait=1.0)

        async def client(first: int) -> None:
            for n in range(first, first + 3):
                await batcher.send(outgoing(queue, n))

        await asyncio.gather(*(client(3 * c) for c in range(12)))

    asyncio.run(main())
    assert sum(slow.batches) == 36
    assert len(slow.batches) <= 4, slow.batches
    assert len(stored_ids(queue)) == 36


def test_a_due_batch_waits_for_a_slow_send_no_longer_than_max_wait(queue: CountingQueue) -> None:
    slow = SlowQueue(queue, delay=0.6)

    async def main() -> float:
        batcher = make_batcher(slow, window=0.005, max_wait=0.1)
        first = asyncio.create_task(batcher.send(outgoing(queue, 1)))
        await asyncio.sleep(0.05)  # the first is in flight now
        started = time.perf_counter()
        second = asyncio.create_task(batcher.send(outgoing(queue, 2)))
        await asyncio.sleep(0.3)
        assert slow.started == 2  # sent after max_wait, not after the first returned
        await asyncio.gather(first, second)
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    assert elapsed < 1.2


class FlakyQueue(CountingQueue):
    """Refuses one message outright and fails another once, on SQS's side."""

    def __init__(self, base: SqsQueue, refused: str, flaky: str) -> None:
        super().__init__(base)
        self.refused, self.flaky, self.calls = refused, flaky, 0

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        self.calls += 1
        keep, failed = [], []
        for index, message in enumerate(messages):
            if self.refused in message.body:
                failed.append(EntryFailure(message.id, "InvalidMessageContents", "bad", True))
            elif self.flaky in message.body and self.calls == 1:
                failed.append(EntryFailure(message.id, "InternalError", "try again", False))
            else:
                keep.append((index, message))
        result = super().send_batch([m for _, m in keep]) if keep else BatchSendResult()
        return BatchSendResult(result.sent, result.failed + failed)


def test_each_waiter_gets_its_own_error_and_transient_failures_are_retried(
    queue: CountingQueue,
) -> None:
    flaky_queue = FlakyQueue(queue, refused='"n":1,', flaky='"n":2,')

    async def main() -> list[object]:
        batcher = make_batcher(flaky_queue, window=0.01)
        sends = [batcher.send(outgoing(queue, n)) for n in range(4)]
        return list(await asyncio.gather(*sends, return_exceptions=True))

    results = asyncio.run(main())
    assert isinstance(results[1], AwsRequestError)
    assert results[1].code == "InvalidMessageContents"
    assert not any(isinstance(r, Exception) for i, r in enumerate(results) if i != 1)
    assert flaky_queue.calls == 2  # the transient failure was sent again, alone
    assert len(stored_ids(queue)) == 3


class DownQueue(CountingQueue):
    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        raise AwsUnavailableError("SQS unreachable: simulated", "SQS")


def test_an_unreachable_queue_fails_every_waiter(queue: CountingQueue) -> None:
    down = DownQueue(queue)

    async def main() -> list[object]:
        batcher = make_batcher(down, window=0.01)
        sends = [batcher.send(outgoing(queue, n)) for n in range(3)]
        return list(await asyncio.gather(*sends, return_exceptions=True))

    assert all(isinstance(r, AwsUnavailableError) for r in asyncio.run(main()))


def test_close_sends_what_is_pending(queue: CountingQueue) -> None:
    async def main() -> None:
        batcher = make_batcher(queue, window=60)
        pending = [asyncio.ensure_future(batcher.send(outgoing(queue, n))) for n in range(3)]
        await asyncio.sleep(0.01)
        assert queue.batches == []  # the minute-long window has not passed
        await batcher.close()
        await asyncio.gather(*pending)

    asyncio.run(main())
    assert queue.batches == [3]


class CountingTopic(SnsTopic):
    """The real topic, recording the size of every PublishBatch call."""

    def __init__(self, base: SnsTopic) -> None:
        super().__init__(base.client, base.name)
        self.batches: list[int] = []

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        self.batches.append(len(messages))
        return super().send_batch(messages)


def test_concurrent_publishes_to_a_topic_share_publish_batches(
    settings: Settings, queues: QueuePair
) -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    arn = sns.create_topic(Name="orders")["TopicArn"]
    stored = SqsQueue.from_settings(settings)
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=stored.arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    topic = CountingTopic(SnsTopic.from_settings(settings, "orders"))
    settings.producer.batch_window_ms = 50

    async def main() -> list[tuple[str, str]]:
        sender = make_sender(topic, settings.producer)
        envelopes = [Envelope(type="t", payload={"n": n}) for n in range(25)]
        messages = [e.outgoing() for e in envelopes]
        for message in messages:
            topic.check_size(message)
        results = await asyncio.gather(*(sender.send(m) for m in messages))
        return [(r.entry_id, r.message_id) for r in results]

    results = dict(asyncio.run(main()))
    assert sorted(topic.batches) == [5, 10, 10]
    assert set(results) == set(stored_ids(stored))
    assert len(set(results.values())) == 25


def test_the_size_limit_is_asked_once_and_again_after_a_failure(queue: CountingQueue) -> None:
    asked: list[int] = []

    def size_limit() -> int:
        asked.append(1)
        if len(asked) == 1:
            raise AwsUnavailableError("SQS unreachable: simulated", "SQS")
        return queue.max_message_size()

    async def main() -> list[object]:
        batcher = SendBatcher(
            partial(send_all, queue.send_batch, service=queue.service),
            service=queue.service,
            size_limit=size_limit,
            window=0.01,
            max_in_flight=4,
        )
        first = [batcher.send(outgoing(queue, n)) for n in range(5)]
        failed = await asyncio.gather(*first, return_exceptions=True)
        second = [batcher.send(outgoing(queue, n)) for n in range(5, 10)]
        return [*failed, *await asyncio.gather(*second)]

    results = asyncio.run(main())
    assert all(isinstance(r, AwsUnavailableError) for r in results[:5])
    assert len(asked) == 2
    assert queue.batches == [5]


class RefusingTopic(SnsTopic):
    """SNS refusing one entry outright and failing another once on its own side."""

    def __init__(self) -> None:
        super().__init__(boto3.client("sns", region_name="us-east-1"), "orders")
        self.calls: list[list[str]] = []

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        self.calls.append([m.body for m in messages])
        sent, failed = [], []
        for message in messages:
            if '"n":1,' in message.body:
                failed.append(EntryFailure(message.id, "InvalidParameter", "bad", True))
            elif '"n":2,' in message.body and len(self.calls) == 1:
                failed.append(EntryFailure(message.id, "InternalError", "again", False))
            else:
                sent.append(SendResult(message.id, f"sns-{message.id}"))
        return BatchSendResult(sent, failed)


def test_topic_entries_get_their_own_sns_errors_and_transient_ones_are_retried(
    settings: Settings,
) -> None:
    topic = RefusingTopic()

    async def main() -> list[object]:
        sender = make_sender(topic, settings.producer)
        messages = [OutgoingMessage(f"e{n}", f'{{"n":{n},"x":0}}') for n in range(3)]
        return list(
            await asyncio.gather(*(sender.send(m) for m in messages), return_exceptions=True)
        )

    results = asyncio.run(main())
    refused = results[1]
    assert isinstance(refused, AwsRequestError)
    assert (refused.code, refused.service) == ("InvalidParameter", "SNS")
    assert [r.entry_id for r in results if isinstance(r, SendResult)] == ["e0", "e2"]
    assert len(topic.calls) == 2
    assert topic.calls[1] == ['{"n":2,"x":0}']
