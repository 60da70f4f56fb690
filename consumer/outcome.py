"""What should happen to a message once its handler is done with it."""

from __future__ import annotations

from dataclasses import dataclass

from shared.aws import ReceivedMessage
from shared.messages.dead_letter import Reason
from shared.messages.envelope import Envelope


def named(message: ReceivedMessage, envelope: Envelope | None = None) -> str:
    """How a log line names a message: by the envelope id, which the producer's answer, the
    status API, the dashboard and `sqs-admin dlq peek` show too, with SQS's id beside it;
    by SQS's id alone, named as such, when the body could not be read. A message in a
    foreign format says which."""
    if envelope is None:
        return f"SQS message {message.message_id}"
    written = envelope.origin.format
    foreign = "" if written == "envelope" else f", {written}"
    return f"message {envelope.id} (SQS {message.message_id}{foreign})"


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
