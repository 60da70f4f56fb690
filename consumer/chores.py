"""The consumer's background duties under one owner: settling outcomes with SQS, extending the
visibility of held messages, sending status events.

A duty is a `Chore`: a plain object that says how often it needs a pass, what one pass does
and what its last pass does. It has no thread of its own. `Chores` starts every chore it is
given, and stops them in the reverse order: the acknowledger settles its last outcomes while
the heartbeat still keeps their messages invisible. Each chore gets its own thread, so a
slow delete during an SQS outage never holds back a visibility extension due meanwhile.
A pass that raises is logged and the chore carries on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

JOIN_SECONDS = 30.0
"""How long a stop waits for a chore's pass in progress (a batch of retried deletes)."""


class Chore:
    """A background duty. `period` is the time between passes (0: none, only the last);
    setting `wake` runs a pass early."""

    name = "chore"
    period = 0.0

    def __init__(self) -> None:
        self.wake = threading.Event()

    def run(self) -> None:
        """One pass."""

    def finish(self) -> None:
        """The last pass, once the chore's thread has stopped."""


class Chores:
    """Starts chores in order and stops them in the reverse order, each completely."""

    def __init__(self, *chores: Chore) -> None:
        self.chores = chores
        self._running: list[tuple[Chore, threading.Event, threading.Thread | None]] = []

    @contextmanager
    def running(self) -> Iterator[None]:
        self.start()
        try:
            yield
        finally:
            self.stop()

    def start(self) -> None:
        for chore in self.chores:
            stopping = threading.Event()
            thread = None
            if chore.period > 0:
                thread = threading.Thread(
                    target=_repeat, args=(chore, stopping), name=chore.name, daemon=True
                )
                thread.start()
            self._running.append((chore, stopping, thread))

    def stop(self) -> None:
        """Stop each chore's thread, then give it its last pass, the last started first."""
        while self._running:
            chore, stopping, thread = self._running.pop()
            stopping.set()
            chore.wake.set()
            if thread is not None:
                thread.join(JOIN_SECONDS)
            _pass(chore, chore.finish)


def _repeat(chore: Chore, stopping: threading.Event) -> None:
    while not stopping.is_set():
        chore.wake.wait(chore.period)
        if stopping.is_set():
            return
        chore.wake.clear()
        _pass(chore, chore.run)


def _pass(chore: Chore, work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:  # a bug in one pass must not end the duty
        log.exception("%s failed; carrying on", chore.name)
