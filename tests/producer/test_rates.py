from __future__ import annotations

import pytest

from producer.tracking.rates import RateWindow


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_is_events_over_the_window() -> None:
    clock = Clock()
    rates = RateWindow(window=10, clock=clock)
    clock.now += 10
    for _ in range(30):
        rates.add("done")
    rates.add("failed")
    assert rates.rates() == {"done": 3.0, "failed": 0.1}


def test_a_young_window_divides_by_the_time_it_has_seen() -> None:
    clock = Clock()
    rates = RateWindow(window=10, clock=clock)
    clock.now += 2
    for _ in range(8):
        rates.add("done")
    assert rates.rates() == {"done": 4.0}


def test_old_events_slide_out_of_the_window() -> None:
    clock = Clock()
    rates = RateWindow(window=5, clock=clock)
    clock.now += 10
    rates.add("done", 10)
    clock.now += 3
    rates.add("done", 5)
    assert rates.rates() == {"done": 3.0}
    clock.now += 3  # the first ten are 6 s old now
    assert rates.rates() == {"done": 1.0}
    clock.now += 10
    assert rates.rates() == {}


def test_memory_stays_one_bucket_per_second_of_window() -> None:
    clock = Clock()
    rates = RateWindow(window=3, clock=clock)
    for _ in range(100):
        clock.now += 1
        rates.add("done")
    assert len(rates._buckets) <= 3


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one second"):
        RateWindow(window=0)
