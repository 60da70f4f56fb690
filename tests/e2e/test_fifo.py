"""FIFO order per group holds with two consumer processes, a failure and a retry included."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from shared.messages.envelope import Envelope
from tests.e2e.conftest import StackFactory, depth
from tests.support import enqueue, wait_for

pytestmark = pytest.mark.e2e

GROUPS = 6
PER_GROUP = 12


def records(path: Path) -> list[tuple[str, int, int]]:
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines()]
    return [(group, int(n), int(pid)) for group, n, pid in lines]


def test_order_holds_per_group_under_two_consumers(start_stack: StackFactory) -> None:
    stack = start_stack(
        SQS_QUEUE_NAME="jobs.fifo",
        SQS_DLQ_NAME="jobs-dlq.fifo",
        SQS_VISIBILITY_TIMEOUT="10",
        CONSUMER_RETRY_BASE_SECONDS="0",
        # Each consumer holds at most two messages, so neither can lock every group.
        CONSUMER_CONCURRENCY="2",
        CONSUMER_PREFETCH="0",
    )
    stack.start_consumer()
    queue = stack.queue("jobs.fifo")
    for n in range(PER_GROUP):  # groups interleaved, as concurrent producers would send
        for g in range(GROUPS):
            payload = {"group": f"g{g}", "n": n, "fail_once": g == 1 and n == 5}
            enqueue(queue, Envelope(type="e2e.sequence", payload=payload), group_id=f"g{g}")
    wait_for(
        lambda: len(records(stack.record)) >= GROUPS * PER_GROUP,
        timeout=90,
        what=f"all handled\n{stack.consumer.output}",
    )
    handled = records(stack.record)
    by_group: dict[str, list[int]] = defaultdict(list)
    for group, n, _ in handled:
        by_group[group].append(n)
    assert dict(by_group) == {f"g{g}": list(range(PER_GROUP)) for g in range(GROUPS)}, handled
    assert len({pid for _, _, pid in handled}) == 2  # both consumers took part
    assert len(list(stack.record.parent.glob("*.failed"))) == 1  # g1's sixth failed once
    deadline = time.monotonic() + 15
    while depth(queue) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert depth(queue) == 0
    assert depth(stack.queue("jobs-dlq.fifo")) == 0
