"""A worker's stop request: its poll loop stops receiving, and running handlers get until the
deadline, which the dispatcher enforces."""

from __future__ import annotations

import threading
import time


class Shutdown:
    """Set once (SIGTERM, `Worker.stop`); stays set."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self._requested = threading.Event()
        self._deadline: float | None = None

    def request(self) -> None:
        if not self._requested.is_set():
            self._deadline = time.monotonic() + self.grace_seconds
            self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @property
    def deadline(self) -> float | None:
        """When running handlers are abandoned; None until a stop is requested."""
        return self._deadline

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking at once on a stop request; True if one came."""
        return self._requested.wait(seconds)
