"""A token bucket: a steady rate with room for a burst, for rate limits on either side.

No library we found offers one that refuses rather than waits (aiolimiter's leaky bucket
waits; `limits` counts windows, which let twice the rate through at a window's edge), and
it is a few lines: tokens refill continuously at `rate` up to `burst`; a call takes one.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from typing_extensions import override

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_UNITS |= {"h": 3600.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    """So many events per second, written as `200/s`, `1000/min` or `36000/hour`."""

    per_second: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Raises ValueError naming the accepted forms."""
        found = _RATE.match(text.lower())
        if not found or found.group(2) not in _UNITS or float(found.group(1)) <= 0:
            raise ValueError(
                f"rate {text!r}: write a positive count per unit, e.g. 200/s, 1000/min"
            )
        return cls(float(found.group(1)) / _UNITS[found.group(2)])

    @override
    def __str__(self) -> str:
        return f"{self.per_second:g}/s"


@dataclass
class TokenBucket:
    """Holds up to `burst` tokens, refilled at `rate`; `take` spends one if there is one."""

    rate: Rate
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._at = self.clock()

    def take(self) -> float:
        """0.0 when a token was taken; else the seconds until one will be there."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate.per_second)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate.per_second


def default_burst(rate: Rate) -> float:
    """One second's worth, and never less than one."""
    return max(1.0, math.floor(rate.per_second))
