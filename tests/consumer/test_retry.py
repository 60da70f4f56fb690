from __future__ import annotations

from itertools import pairwise

import pytest

from consumer.registry import HandlerRegistry
from consumer.retry import Backoff
from consumer.testing import TestConsumer
from shared.aws.limits import MAX_VISIBILITY_SECONDS
from tests.conftest import make_settings


def test_delay_doubles_with_each_receive() -> None:
    backoff = Backoff(base_seconds=2, max_seconds=1000, jitter=0)
    assert [backoff.delay(n) for n in range(1, 6)] == [2, 4, 8, 16, 32]


def test_delay_is_capped() -> None:
    backoff = Backoff(base_seconds=2, max_seconds=60, jitter=0)
    assert backoff.delay(50) == 60
    assert Backoff(base_seconds=10, max_seconds=10**9, jitter=0).delay(40) == MAX_VISIBILITY_SECONDS


@pytest.mark.parametrize("receive_count", [1, 3, 6])
def test_jitter_spreads_delays_within_bounds(receive_count: int) -> None:
    backoff = Backoff(base_seconds=4, max_seconds=10_000, jitter=0.5)
    exact = 4 * 2 ** (receive_count - 1)
    delays = {backoff.delay(receive_count) for _ in range(200)}
    assert min(delays) >= exact
    assert max(delays) <= round(exact * 1.5)
    assert len(delays) > 1


def test_a_zero_base_retries_at_once() -> None:
    assert Backoff(base_seconds=0).delay(3) == 0


def test_a_handlers_own_schedule_spaces_its_retries_over_minutes() -> None:
    """Minutes of backoff, checked on the in-memory queue's virtual clock: SQS hides the
    message for each delay, and nothing sleeps."""
    registry = HandlerRegistry()
    consumer = TestConsumer(registry, settings=make_settings(max_receive_count=5))
    tried_at: list[float] = []

    def failing_three_times(payload: dict[str, int]) -> None:
        tried_at.append(consumer.broker.now)
        if len(tried_at) <= 3:
            raise RuntimeError("not yet")

    registry.register(
        "job", failing_three_times, retry=Backoff(base_seconds=60, max_seconds=200, jitter=0)
    )
    envelope = consumer.send("job", {"n": 1})
    result = consumer.drain()
    assert result.done == [str(envelope.id)]
    assert [b - a for a, b in pairwise(tried_at)] == [60, 120, 200]  # doubling, then capped
