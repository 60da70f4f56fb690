"""A rate limit per caller (API key, or client address when the API is open).

Each caller has a token bucket; the buckets of callers not seen for a while are forgotten
first, so a flood of addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.token_bucket import Rate, TokenBucket, default_burst

MAX_CALLERS = 10_000
"""Buckets kept at once; beyond, the least recently seen caller starts afresh."""


@dataclass
class RateLimiter:
    rate: Rate
    burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, TokenBucket] = field(default_factory=OrderedDict)

    @classmethod
    def parse(cls, rate: str, burst: int | None = None) -> RateLimiter:
        parsed = Rate.parse(rate)
        return cls(parsed, float(burst) if burst else default_burst(parsed))

    def retry_after(self, caller: str) -> int:
        """0 when the caller may go on; else whole seconds to wait (at least 1)."""
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = TokenBucket(self.rate, self.burst, self.clock)
            if len(self._buckets) > MAX_CALLERS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
        wait = bucket.take()
        return 0 if wait == 0 else max(1, math.ceil(wait))
