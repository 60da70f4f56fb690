"""The ids every log line about a message carries, bound for as long as the work on it lasts.

The consumer binds a message's ids while it handles the message; the producer binds a
request's while it serves the request. They are context variables, so they follow the work
onto the handler loop's tasks and stay apart between threads and requests. `LOG_FORMAT=json`
writes them as fields of each line (`shared.logging`); the text format leaves them out, to
keep the local run's lines short.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_fields: ContextVar[dict[str, str] | None] = ContextVar("log_fields", default=None)


@contextmanager
def bound(**fields: str | None) -> Iterator[dict[str, str]]:
    """Add `fields` (those not None) to every line logged within, on this thread or task and
    the tasks it starts. Yields the bound fields, which `add` can extend."""
    merged = {**(_fields.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _fields.set(merged)
    try:
        yield merged
    finally:
        _fields.reset(token)


def add(**fields: str | None) -> None:
    """Extend the fields bound now, for the rest of their scope: a request learns its
    message's ids while it runs, and its closing line carries them."""
    current = _fields.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v is not None})


def current() -> dict[str, str]:
    """The fields bound where this is called."""
    return dict(_fields.get() or {})
