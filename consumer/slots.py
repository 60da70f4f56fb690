"""Back-pressure: the worker receives no more messages than it has room to start soon."""

from __future__ import annotations

import threading


class Slots:
    """A count of messages held, from receipt until their handler has returned."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._busy = 0
        self._changed = threading.Condition()

    @property
    def busy(self) -> int:
        with self._changed:
            return self._busy

    def wait_for_free(self, timeout: float) -> int:
        """Wait up to `timeout` for at least one free slot; returns how many are free."""
        with self._changed:
            self._changed.wait_for(lambda: self._busy < self.size, timeout)
            return max(0, self.size - self._busy)

    def take(self, count: int = 1) -> None:
        with self._changed:
            self._busy += count

    def give(self, count: int = 1) -> None:
        with self._changed:
            self._busy -= count
            self._changed.notify_all()
