"""The moto server our tests, the local run and the benchmark use keeps SQS's atomicity.

Several pollers hammer one queue over HTTP at once, as two consumers do; on moto as it
ships, one message can be received by two of them, and a delete racing another can bring a
deleted message back.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from typing import TYPE_CHECKING

import boto3
import pytest

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

POLLERS = 8
MESSAGES = 300


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_pollers_never_receive_one_message_twice(
    moto_endpoint: str, round_: int
) -> None:
    # The server answers on threads of this process: switching threads often makes a race
    # between two requests likely rather than rare.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        run_pollers(moto_endpoint)
    finally:
        sys.setswitchinterval(previous)


def run_pollers(moto_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="race", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for start in range(0, MESSAGES, 10):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(n), "MessageBody": str(n)} for n in range(start, start + 10)
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    received: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(POLLERS)

    def poll() -> None:
        client = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
        try:
            go.wait(timeout=30)
            for _ in range(200):  # bounded: each round takes up to ten of 300
                answer = client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
                )
                messages = answer.get("Messages", [])
                if not messages:
                    return
                with lock:
                    received.extend(m["Body"] for m in messages)
                receipts: list[DeleteMessageBatchRequestEntryTypeDef] = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ]
                client.delete_message_batch(QueueUrl=url, Entries=receipts)
        except BaseException as exc:  # noqa: BLE001  # reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(POLLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)
    twice = {body: n for body, n in Counter(received).items() if n > 1}
    assert twice == {}, f"received more than once: {twice}"
    assert sorted(map(int, received)) == list(range(MESSAGES))
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    left = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
    assert left == 0, "a deleted message came back"


def test_a_long_poll_does_not_hold_up_other_callers(moto_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    url = sqs.create_queue(QueueName="idle")["QueueUrl"]
    other = sqs.create_queue(QueueName="busy")["QueueUrl"]
    waiting = threading.Thread(
        target=lambda: boto3.client(
            "sqs", endpoint_url=moto_endpoint, region_name="us-east-1"
        ).receive_message(QueueUrl=url, WaitTimeSeconds=5)
    )
    waiting.start()
    sqs.send_message(QueueUrl=other, MessageBody="x")
    answer = sqs.receive_message(QueueUrl=other, WaitTimeSeconds=0)
    assert waiting.is_alive(), "the long poll should still be waiting"
    assert [m["Body"] for m in answer["Messages"]] == ["x"]
    waiting.join(timeout=10)
