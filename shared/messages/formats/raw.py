"""Bodies in no format of their own: any other JSON object, and text.

Both are routed by the `type` message attribute when the sender set one (as our producer
does, and as the AWS CLI or any SDK can), else to the default handler. A JSON object is the
payload; text (anything that is not a JSON object) goes to handlers that take `str`.
"""

from __future__ import annotations

from typing import Any

from shared.messages.envelope import Envelope
from shared.messages.formats.received import Received


def read_json(data: dict[str, Any], received: Received) -> Envelope:
    return received.foreign("json", payload=data)


def read_text(received: Received) -> Envelope:
    return received.foreign("text", payload={})
