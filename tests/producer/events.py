"""Status events for tests: one message's stages, stamped at chosen offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from shared.messages.status_events import Stage, StatusEvent

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def event(
    stage: Stage,
    seconds: float = 0.0,
    *,
    id: str | None = None,
    attempt: int | None = None,
    **fields: Any,
) -> StatusEvent:
    """`stage` of message `id`, `seconds` after T0; attempt 1 unless accepted."""
    return StatusEvent(
        id=id or str(uuid4()),
        stage=stage,
        type=fields.pop("type", "order.created"),
        queue=fields.pop("queue", "messages"),
        at=T0 + timedelta(seconds=seconds),
        attempt=(0 if stage is Stage.ACCEPTED else 1) if attempt is None else attempt,
        **fields,
    )
