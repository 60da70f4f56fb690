"""An EventBridge event, delivered by a rule with an SQS target (without an input
transformer; a transformed event is plain JSON).

Its type is `<source>:<detail-type>` (`aws.ec2:EC2 Instance State-change Notification`,
`com.example.orders:OrderPlaced`), its payload the `detail` object, its id the event's
`id`, and `source`, `detail-type`, `time`, `region`, `account` and `resources` stay on the
envelope's `origin.event`.
"""

from __future__ import annotations

from typing import Any

from shared.messages.envelope import AwsEvent, Envelope
from shared.messages.formats.received import NotReadableError, Received, timestamp

REQUIRED = ("detail-type", "source", "detail")


def read(data: dict[str, Any], received: Received) -> Envelope | None:
    """The event's envelope; None when `data` is not an EventBridge event."""
    if not all(key in data for key in REQUIRED):
        return None
    source, detail_type, detail = data["source"], data["detail-type"], data["detail"]
    if not isinstance(source, str) or not isinstance(detail_type, str) or not source:
        raise NotReadableError("an EventBridge event whose source or detail-type is not a string")
    if not isinstance(detail, dict):
        raise NotReadableError("an EventBridge event whose detail is not an object")
    event_id = data.get("id") if isinstance(data.get("id"), str) and data.get("id") else None
    resources = data.get("resources")
    event = AwsEvent(
        source=source,
        detail_type=detail_type,
        id=event_id,
        time=timestamp(data.get("time")),
        region=_text(data.get("region")),
        account=_text(data.get("account")),
        resources=tuple(r for r in resources if isinstance(r, str))
        if isinstance(resources, list)
        else (),
    )
    return received.foreign(
        "eventbridge",
        payload=detail,
        message_type=f"{source}:{detail_type}",
        envelope_id=event_id,
        created_at=event.time,
        event=event,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
