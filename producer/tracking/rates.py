"""Events per second over a sliding window, for the dashboard's counters and chart."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable


class RateWindow:
    """Counts in one-second buckets; old buckets fall off, so memory stays `window` buckets."""

    def __init__(self, window: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        if window < 1:
            raise ValueError("window must be at least one second")
        self.window = window
        self._clock = clock
        self._started = clock()
        self._buckets: deque[tuple[int, Counter[str]]] = deque()

    def add(self, key: str, count: int = 1) -> None:
        second = int(self._clock())
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append((second, Counter()))
            self._trim(second)
        self._buckets[-1][1][key] += count

    def rates(self) -> dict[str, float]:
        """Per key, events per second over the window (or over the time since start, if less:
        a rate measured over 3 s must not be divided by 10)."""
        now = self._clock()
        self._trim(int(now))
        span = max(1.0, min(float(self.window), now - self._started))
        totals: Counter[str] = Counter()
        for _, counts in self._buckets:
            totals.update(counts)
        return {key: round(count / span, 3) for key, count in totals.items()}

    def _trim(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self.window:
            self._buckets.popleft()
