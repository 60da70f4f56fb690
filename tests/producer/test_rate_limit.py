"""The rate limiter's memory is bounded however many callers come: a flood of addresses
(or forged ones, through a trusted proxy) cannot grow it."""

from __future__ import annotations

from producer.security import rate_limit
from producer.security.rate_limit import RateLimiter


def test_buckets_are_bounded_and_the_least_recently_seen_caller_is_forgotten() -> None:
    limiter = RateLimiter.parse("1/min", burst=1)
    callers = rate_limit.MAX_CALLERS
    assert limiter.retry_after("first") == 0
    assert limiter.retry_after("first") > 0  # its one token spent
    for n in range(callers + 500):
        limiter.retry_after(f"address:{n}")
    assert len(limiter._buckets) == callers
    assert limiter.retry_after("first") == 0  # forgotten: it starts afresh
    assert limiter.retry_after(f"address:{callers + 499}") > 0  # remembered: still limited
