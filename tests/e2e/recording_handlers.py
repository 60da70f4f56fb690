"""Handlers the end-to-end tests load into a real consumer through CONSUMER_HANDLERS.

Each handled envelope id is appended to the file named by E2E_RECORD_FILE, so the test
process can count exactly what the consumer process did.
"""

from __future__ import annotations

import os
from typing import Any

from consumer import Envelope, handler


def _record(envelope: Envelope) -> None:
    with open(os.environ["E2E_RECORD_FILE"], "a") as record:
        record.write(f"{envelope.id}\n")


@handler("e2e.record")
def on_record(payload: dict[str, Any], envelope: Envelope) -> None:
    _record(envelope)


@handler("e2e.fail")
def on_fail(payload: dict[str, Any]) -> None:
    raise RuntimeError(f"always fails: {payload}")


@handler("e2e.sequence")
def on_sequence(payload: dict[str, Any], envelope: Envelope) -> None:
    """Record group, position and process; fail once (across processes) where asked."""
    if payload.get("fail_once"):
        marker = f"{os.environ['E2E_RECORD_FILE']}.{envelope.id}.failed"
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            pass
        else:
            raise RuntimeError("failing once, on purpose")
    with open(os.environ["E2E_RECORD_FILE"], "a") as record:
        record.write(f"{payload['group']} {payload['n']} {os.getpid()}\n")
