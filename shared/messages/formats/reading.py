"""Which format a body is in, tried in a fixed order, and the envelopes it holds.

The order: our envelope (parsed straight, the fast path), an SNS notification (what it
carries read again), an S3 event notification, an EventBridge event, any other JSON
object, text. A body that claims a format and breaks it is refused (`NotReadableError`); a body
is never read as a later format because an earlier one did not fit it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from shared.aws.entries import ReceivedMessage
from shared.messages.envelope import Envelope, Format
from shared.messages.formats import eventbridge, ours, raw, s3_events, sns
from shared.messages.formats.received import NotReadableError, Received

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

__all__ = ["Incoming", "NotReadableError", "read_message"]


@dataclass(frozen=True)
class Incoming:
    """What one message holds: the envelopes to run, one per handler call, in order."""

    envelopes: tuple[Envelope, ...]
    format: Format
    skipped: str | None = None
    """Why there is nothing to run (`s3:TestEvent`); the message is simply acknowledged."""
    sent_with: Mapping[str, MessageAttributeValueTypeDef] = field(default_factory=dict)
    """The attributes an SNS notification carried in its body (delivery without raw
    message delivery puts them there, not in SQS's); empty for any other message."""


def read_message(
    message: ReceivedMessage, body: str | None = None, *, stored_in: str | None = None
) -> Incoming:
    """Read `message` (with `body` in place of its own when that was fetched from S3)."""
    received = Received(
        message_id=message.message_id,
        body=message.body if body is None else body,
        attributes=message.attributes,
        sent_at=message.sent_at,
        stored_in=stored_in,
        sqs_message_id=message.message_id,
    )
    return read(received, unwrap_sns=True)


def read(received: Received, *, unwrap_sns: bool) -> Incoming:
    envelope = ours.read_fast(received)
    if envelope is not None:
        return Incoming((envelope,), "envelope")
    data = _json_object(received.body)
    if data is None:
        return Incoming((raw.read_text(received),), "text")
    envelope = ours.read(data, received)
    if envelope is not None:
        return Incoming((envelope,), "envelope")
    inner = sns.unwrap(data, received) if unwrap_sns else None
    if inner is not None:  # counted as `sns`; each envelope's origin says what it carried
        return replace(read(inner, unwrap_sns=False), format="sns", sent_with=inner.attributes)
    if s3_events.is_test_event(data):
        return Incoming((), "s3", skipped=s3_events.TEST_EVENT)
    records = s3_events.read(data, received)
    if records is not None:
        return Incoming(tuple(records), "s3")
    envelope = eventbridge.read(data, received)
    if envelope is not None:
        return Incoming((envelope,), "eventbridge")
    return Incoming((raw.read_json(data, received),), "json")


def _json_object(body: str) -> dict[str, Any] | None:
    if not body.lstrip().startswith("{"):
        return None
    try:
        data = from_json(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
