"""`LongPoll`: a stop does not wait for a long poll, and what that poll brings back later is
made visible again rather than held until the visibility timeout."""

from __future__ import annotations

import threading
import time

import pytest
from typing_extensions import override

from consumer.long_poll import STOP_CHECK_SECONDS, LongPoll
from consumer.memory_queue import MemoryBroker, MemoryQueue
from consumer.shutdown import Shutdown
from shared.aws import AwsRequestError, OutgoingMessage, ReceivedMessage


class SlowQueue(MemoryQueue):
    """A memory queue whose receive waits until released, as a long poll does."""

    released = threading.Event()

    @override
    def receive(
        self, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        self.released.wait(10)
        return super().receive(max_messages=max_messages, wait_time_seconds=0)


def slow_queue() -> SlowQueue:
    queue = SlowQueue(MemoryBroker(visibility_timeout=30, max_receive_count=None), "messages", None)
    queue.released = threading.Event()
    return queue


def test_a_stop_returns_from_a_long_poll_at_once_and_its_messages_come_back() -> None:
    queue = slow_queue()
    queue.send_batch([OutgoingMessage("0", "a"), OutgoingMessage("1", "b")])
    shutdown = Shutdown(grace_seconds=5)
    late: list[str] = []
    poll = LongPoll(queue, shutdown, "receive-test", lambda got: late.extend(m.body for m in got))
    answers: list[object] = []
    poller = threading.Thread(target=lambda: answers.append(poll.receive(10, 20)))
    poller.start()
    time.sleep(STOP_CHECK_SECONDS)  # the poll is in flight
    started = time.monotonic()
    shutdown.request()
    poller.join(5)
    assert answers == [None]
    assert time.monotonic() - started < 3 * STOP_CHECK_SECONDS
    queue.released.set()  # the abandoned poll returns, with both messages
    poll.finish(grace=5)
    assert sorted(late) == ["a", "b"]  # handed over, not left hidden for 30 s


def test_a_poll_answered_before_the_stop_is_returned() -> None:
    queue = slow_queue()
    queue.send_batch([OutgoingMessage("0", "a")])
    queue.released.set()
    poll = LongPoll(queue, Shutdown(grace_seconds=5), "receive-test", lambda got: None)
    first = poll.receive(10, 20)
    assert first is not None
    assert [m.body for m in first] == ["a"]
    assert poll.receive(10, 0) == []


def test_a_failed_receive_raises_on_the_poller() -> None:
    queue = slow_queue()
    queue.released.set()
    failure = AwsRequestError("Throttled", "receive failed", "SQS")
    queue.receive = lambda **kwargs: (_ for _ in ()).throw(failure)  # type: ignore[method-assign]
    poll = LongPoll(queue, Shutdown(grace_seconds=5), "receive-test", lambda got: None)
    with pytest.raises(AwsRequestError) as raised:
        poll.receive(10, 0)
    assert raised.value is failure


def test_a_finished_poll_leaves_no_thread_behind() -> None:
    queue = slow_queue()
    queue.released.set()
    poll = LongPoll(queue, Shutdown(grace_seconds=5), "receive-leak-test", lambda got: None)
    assert poll.receive(10, 0) == []
    poll.finish()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        t.name == "receive-leak-test" for t in threading.enumerate()
    ):
        time.sleep(0.01)
    assert not any(t.name == "receive-leak-test" for t in threading.enumerate())
