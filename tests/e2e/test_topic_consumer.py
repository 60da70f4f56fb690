"""One consumer process serving every queue subscribed to a topic: fan-out end to end."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.conftest import StackFactory
from tests.e2e.test_topics import FILTERS, TOPICS
from tests.support import post_json, wait_for

pytestmark = pytest.mark.e2e


def test_a_published_message_is_handled_once_per_queue_whose_filter_matches(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(TOPICS)
    stack = start_stack(TOPICS_FILE=str(topics_file), CONSUMER_QUEUES=",".join(FILTERS))
    messages = [
        {"type": "e2e.record", "payload": {"region": "eu"}},  # eu-orders and audit
        {"type": "e2e.record", "payload": {"region": "us"}},  # audit only
    ]
    expected: Counter[str] = Counter()
    for message in messages:
        status, answer = post_json(f"{stack.producer_url}/topics/orders/messages", message)
        assert status == 202, answer
        expected[str(answer["id"])] = sum(match(message) for match in FILTERS.values())
    wait_for(
        lambda: len(stack.handled_ids()) >= sum(expected.values()),
        timeout=30,
        what=f"fan-out handled\n{stack.consumer.output}",
    )
    assert Counter(stack.handled_ids()) == expected
    assert sorted(expected.values()) == [1, 2]
