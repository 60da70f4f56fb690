"""Where a worker's dead letters go when its queue's redrive policy cannot be read: the
same DLQ bootstrap made for it, so a FIFO queue's never land in a standard queue."""

from __future__ import annotations

import pytest

from consumer.memory_queue import MemoryBroker
from consumer.queue_config import QueueConfig
from shared.aws import AwsRequestError
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("queue", "dead_letters"),
    [
        ("messages", "messages-dlq"),  # the main queue: SQS_DLQ_NAME
        ("billing", "billing-dlq"),
        ("ledger.fifo", "ledger-dlq.fifo"),
    ],
)
def test_an_unreadable_queue_dead_letters_by_the_naming_rule(queue: str, dead_letters: str) -> None:
    unreadable = MemoryBroker().queue(queue)

    def refuse(*names: str) -> dict[str, str]:
        raise AwsRequestError("AccessDenied", "no GetQueueAttributes", "SQS")

    unreadable.attributes = refuse  # type: ignore[method-assign]
    config = QueueConfig.read(unreadable, make_settings())
    assert config.dead_letter_queue == dead_letters
    assert config.fifo == queue.endswith(".fifo")
