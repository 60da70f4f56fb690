"""When a failed message comes back: exponential backoff from its receive count.

SQS re-delivers a failed message only when its visibility timeout expires; setting that
timeout per failure turns the queue itself into the retry scheduler, with no sleeping
worker and nothing held in memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shared.aws.limits import MAX_VISIBILITY_SECONDS


@dataclass(frozen=True)
class Backoff:
    """`base * 2**(receive_count - 1)` seconds, capped, with jitter so retries spread out."""

    base_seconds: float = 2.0
    max_seconds: float = 300.0
    jitter: float = 0.2
    """Up to this fraction of the delay is added at random."""

    def delay(self, receive_count: int) -> int:
        """Whole seconds (what SQS takes) before the next attempt after `receive_count` tries."""
        exponent = max(receive_count, 1) - 1
        raw = min(self.max_seconds, self.base_seconds * 2.0 ** min(exponent, 32))
        raw += raw * self.jitter * random.random()  # noqa: S311 - jitter, not crypto
        return max(0, min(round(raw), int(self.max_seconds), MAX_VISIBILITY_SECONDS))
