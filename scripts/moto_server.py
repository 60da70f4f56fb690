"""moto's server as the local run, the benchmark and the tests start it.

Two changes to moto as it ships:
- **Each SQS call on a queue is atomic**, as it is on SQS. moto's server answers on many
  threads and its SQS backend takes no lock, so two consumers polling at once can both
  receive the same message (both see it visible before either marks it received), and two
  deletes at once can bring a deleted message back (each rebuilds the message list without
  its own). The first broke FIFO order under load: one message of a group handled twice
  (getmoto/moto#519). Every call that reads or changes messages runs under one lock; a long
  poll waits outside it, so the other pollers are not held up.
- **Quiet**: no log line per request; warnings and errors still show, but not the traceback
  moto prints for a call it does not implement (StartMessageMoveTask, which a redrive tries
  first): the caller is told, and falls back.

Run it as `python -m scripts.moto_server -H 127.0.0.1 -p 4566`; `serialize_sqs()` applies
the first change to a server started in this process.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.sqs.models import SQSBackend

_LOCK = threading.RLock()
_NOT_DELIVERABLE_PAUSE_SECONDS = 0.05
"""How long a long poll rests when the visible messages are all in busy FIFO groups: moto's
own loop spins there."""
_ATOMIC_CALLS = (
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
    "get_queue_attributes",
)


def _atomic(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return call(*args, **kwargs)

    return locked


def _atomic_receive(receive: Callable[..., Any]) -> Callable[..., Any]:
    """Each attempt runs with no wait under the lock; the long poll waits outside it."""

    @functools.wraps(receive)
    def receive_message(
        self: SQSBackend,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with _LOCK:
                result = receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            started = time.monotonic()
            self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))  # type: ignore[arg-type]
            if time.monotonic() - started < _NOT_DELIVERABLE_PAUSE_SECONDS:
                time.sleep(min(_NOT_DELIVERABLE_PAUSE_SECONDS, max(remaining, 0.0)))

    return receive_message


def serialize_sqs() -> None:
    """Make each of moto's SQS calls atomic in this process (once; later calls do nothing)."""
    if getattr(SQSBackend, "_calls_atomic", False):
        return
    for name in _ATOMIC_CALLS:
        setattr(SQSBackend, name, _atomic(getattr(SQSBackend, name)))
    SQSBackend.receive_message = _atomic_receive(SQSBackend.receive_message)  # type: ignore[method-assign]
    SQSBackend._calls_atomic = True  # type: ignore[attr-defined]


def _quiet() -> None:
    log = logging.getLogger("werkzeug")
    log.setLevel(logging.WARNING)
    log.addFilter(lambda record: "NotImplementedError" not in record.getMessage())


def main(argv: list[str]) -> None:
    """moto's own command line (`-H`, `-p`, ...), with atomic SQS calls and quiet."""
    from moto.server import main as moto_main

    serialize_sqs()
    _quiet()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
