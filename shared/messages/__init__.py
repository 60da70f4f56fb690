"""What travels: the envelope and its wire format, status events, the dead-letter record."""

from shared.messages.dead_letter import DeadLetter, Reason
from shared.messages.envelope import Envelope, MessageAttributes, MessageType
from shared.messages.status_events import Stage, StatusEvent

__all__ = [
    "DeadLetter",
    "Envelope",
    "MessageAttributes",
    "MessageType",
    "Reason",
    "Stage",
    "StatusEvent",
]
