"""Our own envelope (see docs/wire-format.md): the format our producer writes.

A body is read as an envelope when it is a JSON object with `type` and `payload`; then it
must be a valid one, or it is refused with what is wrong: it is never read as something
else. Fields the sender left out are filled so that every receive agrees: the id from the
message id, the correlation id from the id, the time from when SQS received it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared.messages.envelope import Envelope
from shared.messages.formats.received import NotReadableError, Received

CLAIMING_KEYS = ("type", "payload")


def read_fast(received: Received) -> Envelope | None:
    """The envelope, parsed straight from the body: the path every message of ours takes."""
    try:
        envelope = Envelope.from_body(received.body)
    except ValidationError:
        return None
    return _completed(envelope, received)


def read(data: dict[str, Any], received: Received) -> Envelope | None:
    """The envelope when `data` claims to be one; None when it does not claim it."""
    if not all(key in data for key in CLAIMING_KEYS):
        return None
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        raise NotReadableError(f"not a valid envelope: {summary(exc)}") from exc
    return _completed(envelope, received)


def _completed(envelope: Envelope, received: Received) -> Envelope:
    given = envelope.model_fields_set
    missing: dict[str, Any] = {}
    if "id" not in given:
        missing["id"] = received.message_id
    if "correlation_id" not in given:
        missing["correlation_id"] = missing.get("id", envelope.id)
    if "created_at" not in given and received.sent_at is not None:
        missing["created_at"] = received.sent_at
    if missing:
        envelope = envelope.model_copy(update=missing)
    return envelope.received(received.origin("envelope"))


def summary(exc: ValidationError, limit: int = 5) -> str:
    """The first few errors, one line: what a dead letter's reason says."""
    errors = exc.errors()
    text = "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors[:limit]
    )
    return text + (f"; and {len(errors) - limit} more" if len(errors) > limit else "")
