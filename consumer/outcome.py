"""What should happen to a message once its handler is done with it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.aws import ReceivedMessage
from shared.messages.dead_letter import Reason
from shared.messages.envelope import Envelope


@dataclass(frozen=True)
class Done:
    """Handled (or already handled, for an idempotent handler): delete it."""

    message: ReceivedMessage
    duplicate: bool = False


@dataclass(frozen=True)
class Retry:
    """Failed, may succeed later: make it visible again after `delay` seconds."""

    message: ReceivedMessage
    delay: int
    error: str


@dataclass(frozen=True)
class Dead:
    """Retrying cannot help: send it to the dead-letter queue with the reason, then delete it."""

    message: ReceivedMessage
    reason: Reason
    error: str
    envelope: Envelope | None = None
    """What the message was read as, when it could be read: its id is what the feed follows."""


@dataclass(frozen=True)
class Abandoned:
    """The handler overran its time: stop extending visibility and let SQS redeliver it."""

    message: ReceivedMessage


@dataclass(frozen=True)
class Released:
    """Received but never started (shutdown): visible again at once."""

    message: ReceivedMessage


Outcome = Done | Retry | Dead | Abandoned | Released
