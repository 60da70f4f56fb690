"""The ids every log line about a message carries, bound for as long as the work on it lasts.

The consumer binds a message's ids while it handles the message; the producer binds a
request's while it serves the request. They are context variables, so they follow the work
onto the handler loop's tasks and stay apart between threads and requests. `LOG_FORMAT=json`
writes them as fields of each line (`shared.logging`); the text format leaves them out, to
keep the local run's lines short.
"""

from __future__ import annotations

from contextvars import ContextVar

_fields: ContextVar[dict[str, str] | None] = ContextVar("log_fields", default=None)


class bound:  # noqa: N801 - used as a function: `with log_context.bound(...)`
    """Add `fields` (those not None) to every line logged within, on this thread or task and
    the tasks it starts. Entering yields the bound fields, which `add` can extend.

    A class, not a generator-based context manager: it runs several times per message,
    and a token set and reset is all it needs."""

    __slots__ = ("_token", "fields")

    def __init__(self, **fields: str | None) -> None:
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def __enter__(self) -> dict[str, str]:
        above = _fields.get()
        if above:
            self.fields = above | self.fields
        self._token = _fields.set(self.fields)
        return self.fields

    def __exit__(self, *exc_info: object) -> None:
        _fields.reset(self._token)


def add(**fields: str | None) -> None:
    """Extend the fields bound now, for the rest of their scope: a request learns its
    message's ids while it runs, and its closing line carries them."""
    current = _fields.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v is not None})


def current() -> dict[str, str]:
    """The fields bound where this is called."""
    return dict(_fields.get() or {})
