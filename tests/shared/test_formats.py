"""Reading bodies in every format we accept, as their writers write them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from shared.aws import ReceivedMessage
from shared.messages.envelope import Envelope
from shared.messages.formats import Incoming, NotReadableError, read_message
from shared.messages.formats.s3_events import S3EventRecord
from tests.aws_samples import (
    S3_TEST_EVENT,
    TOPIC_ARN,
    eventbridge_event,
    s3_notification,
    s3_record,
    sns_notification,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

SENT_AT = 1_764_504_000_000  # 2025-11-30T12:00:00Z


def received(
    body: str,
    attributes: dict[str, MessageAttributeValueTypeDef] | None = None,
    message_id: str = "a1b2c3d4-0000-4000-8000-000000000001",
) -> ReceivedMessage:
    return ReceivedMessage(
        message_id=message_id,
        receipt_handle="rh",
        body=body,
        receive_count=1,
        attributes=attributes or {},
        sent_timestamp=SENT_AT,
    )


def text(value: str) -> MessageAttributeValueTypeDef:
    return {"DataType": "String", "StringValue": value}


def only(incoming: Incoming) -> Envelope:
    [envelope] = incoming.envelopes
    return envelope


def test_our_envelope_is_read_as_it_was_written() -> None:
    sent = Envelope(type="order.created", payload={"n": 1}, attributes={"tenant": "acme"})
    envelope = only(read_message(received(sent.to_body())))
    assert envelope == sent
    assert envelope.origin.format == "envelope"


def test_an_envelope_without_id_takes_the_message_id_on_every_receive() -> None:
    body = json.dumps({"type": "t", "payload": {}})
    first = only(read_message(received(body)))
    again = only(read_message(received(body)))
    assert first.id == again.id == "a1b2c3d4-0000-4000-8000-000000000001"
    assert first.correlation_id == first.id
    assert first.created_at == again.created_at == datetime.fromtimestamp(SENT_AT / 1000, UTC)


def test_an_envelope_without_id_keeps_the_correlation_id_it_gives() -> None:
    body = json.dumps({"type": "t", "payload": {}, "correlation_id": "req-7"})
    envelope = only(read_message(received(body)))
    assert envelope.correlation_id == "req-7"
    assert envelope.id == "a1b2c3d4-0000-4000-8000-000000000001"


def test_ids_are_any_printable_string_such_as_a_ulid() -> None:
    body = json.dumps({"id": "01JDQ7Z3X6K2M8N4P5R9S0T1V2", "type": "t", "payload": {}})
    assert only(read_message(received(body))).id == "01JDQ7Z3X6K2M8N4P5R9S0T1V2"


def test_camel_case_fields_are_read_as_their_snake_case_names() -> None:
    body = json.dumps(
        {
            "type": "t",
            "payload": {},
            "correlationId": "c-1",
            "createdAt": "2026-01-02T03:04:05Z",
        }
    )
    envelope = only(read_message(received(body)))
    assert envelope.correlation_id == "c-1"
    assert envelope.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "t", "payload": {}, "correlation": "c-1"}, "correlation"),
        ({"type": "t", "payload": {}, "created": "2026-01-01"}, "created"),
        ({"type": "t", "payload": []}, "payload"),
        ({"type": "bad type", "payload": {}}, "type"),
    ],
)
def test_a_body_claiming_to_be_an_envelope_is_refused_naming_what_is_wrong(
    body: dict[str, object], named: str
) -> None:
    with pytest.raises(NotReadableError, match=named):
        read_message(received(json.dumps(body)))


def test_an_sns_notification_is_unwrapped_and_its_envelope_read() -> None:
    inner = Envelope(type="order.created", payload={"n": 2})
    envelope = only(read_message(received(sns_notification(inner.to_body()))))
    assert envelope == inner
    assert envelope.origin.sns is not None
    assert envelope.origin.sns.topic_arn == TOPIC_ARN
    assert envelope.origin.sns.message_id == "b3c5e1a2-9f7d-5c1e-8f3a-2d4b6c8e0f1a"
    assert envelope.origin.sns.timestamp == datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=UTC)


def test_an_sns_notification_of_raw_json_is_routed_by_its_type_attribute() -> None:
    body = sns_notification(
        json.dumps({"order_id": "A-1"}),
        {
            "type": ("String", "order.created"),
            "blob": ("Binary", base64.b64encode(b"\0\1").decode()),
        },
    )
    envelope = only(read_message(received(body)))
    assert (envelope.type, envelope.payload) == ("order.created", {"order_id": "A-1"})
    assert envelope.origin.format == "json"
    assert envelope.id == "b3c5e1a2-9f7d-5c1e-8f3a-2d4b6c8e0f1a"  # SNS's, the same each delivery
    assert envelope.origin.attributes["blob"] == {"DataType": "Binary", "BinaryValue": b"\0\1"}


def test_an_sns_notification_without_a_message_id_is_refused() -> None:
    with pytest.raises(NotReadableError, match="MessageId"):
        read_message(received(sns_notification("x", MessageId="")))


def test_an_s3_notification_through_sns_is_read_as_s3_records() -> None:
    envelope = only(read_message(received(sns_notification(s3_notification()))))
    assert envelope.type == "aws.s3:ObjectCreated:Put"
    assert envelope.origin.sns is not None


def test_each_s3_record_is_one_envelope_with_an_id_of_its_own() -> None:
    body = s3_notification(s3_record("a"), s3_record("b", "ObjectRemoved:Delete"))
    incoming = read_message(received(body))
    assert [e.type for e in incoming.envelopes] == [
        "aws.s3:ObjectCreated:Put",
        "aws.s3:ObjectRemoved:Delete",
    ]
    ids = [e.id for e in incoming.envelopes]
    assert len(set(ids)) == 2
    assert ids == [e.id for e in read_message(received(body)).envelopes]  # stable


def test_an_s3_record_validates_into_its_model_with_the_key_decoded() -> None:
    envelope = only(read_message(received(s3_notification())))
    record = S3EventRecord.model_validate(envelope.payload)
    assert (record.bucket, record.key) == ("reports", "incoming/report 2026?.csv")
    assert record.s3.object.size == 1024
    assert envelope.origin.event is not None
    assert envelope.origin.event.resources == ("arn:aws:s3:::reports",)


def test_the_s3_test_event_holds_nothing_to_run() -> None:
    incoming = read_message(received(S3_TEST_EVENT))
    assert incoming.envelopes == ()
    assert incoming.skipped == "s3:TestEvent"


def test_an_eventbridge_event_gives_its_detail_typed_by_source_and_detail_type() -> None:
    envelope = only(read_message(received(eventbridge_event())))
    assert envelope.type == "aws.ec2:EC2 Instance State-change Notification"
    assert envelope.payload == {"instance-id": "i-abcd1111", "state": "pending"}
    assert envelope.id == "7bf73129-1428-4cd3-a780-95db273d1602"
    assert envelope.origin.event is not None
    assert envelope.origin.event.account == "123456789012"
    assert envelope.created_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_an_eventbridge_event_whose_detail_is_not_an_object_is_refused() -> None:
    body = json.loads(eventbridge_event())
    body["detail"] = "text"
    with pytest.raises(NotReadableError, match="detail"):
        read_message(received(json.dumps(body)))


def test_raw_json_is_routed_by_the_type_attribute_and_keeps_its_other_attributes() -> None:
    body = json.dumps({"order_id": "A-1", "type": "not the routing key"})
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "type": text("order.created"),
        "tenant": text("acme"),
        "correlation_id": text("c-9"),
        "n": {"DataType": "Number", "StringValue": "42"},
    }
    envelope = only(read_message(received(body, attributes)))
    assert envelope.type == "order.created"
    assert envelope.payload == {"order_id": "A-1", "type": "not the routing key"}
    assert envelope.attributes == {"tenant": "acme", "n": "42"}
    assert envelope.correlation_id == "c-9"


def test_raw_json_without_a_type_has_the_empty_type_of_the_default_handler() -> None:
    envelope = only(read_message(received(json.dumps({"a": 1}))))
    assert (envelope.type, envelope.origin.format) == ("", "json")


@pytest.mark.parametrize("body", ["plain text", "[1, 2]", "42", '"a string"', "{broken json"])
def test_anything_but_a_json_object_is_text(body: str) -> None:
    envelope = only(read_message(received(body, {"type": text("note")})))
    assert (envelope.origin.format, envelope.origin.body, envelope.type) == ("text", body, "note")
