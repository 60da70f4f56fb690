"""Handlers a real consumer loads for the foreign-sender tests (CONSUMER_HANDLERS): each
call is one JSON line in E2E_RECORD_FILE, with the format and origin the consumer read."""

from __future__ import annotations

import json
import os
from typing import Any

from consumer import Envelope, PermanentError, S3EventRecord, handler, registry


def _record(kind: str, payload: Any, envelope: Envelope) -> None:
    line = {
        "handler": kind,
        "id": envelope.id,
        "type": envelope.type,
        "format": envelope.origin.format,
        "sns_topic": envelope.origin.sns.topic_arn if envelope.origin.sns else None,
        "payload": payload,
    }
    with open(os.environ["E2E_RECORD_FILE"], "a") as record:
        record.write(json.dumps(line) + "\n")


@handler("foreign.order")
def on_order(order: dict[str, Any], envelope: Envelope) -> None:
    _record("order", order, envelope)


@handler("foreign.flaky")
def on_flaky(payload: dict[str, Any], envelope: Envelope) -> None:
    """Fails the first attempt of each message (across processes), recording both."""
    _record("flaky", payload, envelope)
    marker = f"{os.environ['E2E_RECORD_FILE']}.{envelope.id}.failed"
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return
    raise RuntimeError("failing once, on purpose")


def on_anything(payload: Any, envelope: Envelope) -> None:
    _record("default", payload, envelope)


registry.set_default(on_anything)


@handler("aws.s3:ObjectCreated:*")
def on_upload(record: S3EventRecord, envelope: Envelope) -> None:
    _record(
        "s3", {"bucket": record.bucket, "key": record.key, "size": record.s3.object.size}, envelope
    )


@handler("com.example.billing:PaymentSettled")
def on_payment(detail: dict[str, Any], envelope: Envelope) -> None:
    event = envelope.origin.event
    assert event is not None
    _record(
        "eventbridge",
        {
            "detail": detail,
            "source": event.source,
            "detail_type": event.detail_type,
            "id": event.id,
        },
        envelope,
    )


@handler("foreign.refused")
def on_refused(payload: dict[str, Any]) -> None:
    raise PermanentError("refused for good")
