from __future__ import annotations

import json
from uuid import UUID

import pytest
from pydantic import ValidationError

from shared.messages.envelope import MAX_USER_ATTRIBUTES, SENT, Envelope, Origin


def test_body_round_trips_and_carries_every_field() -> None:
    envelope = Envelope(type="order.created", payload={"n": 1, "nested": {"a": [1, 2]}})
    body = json.loads(envelope.to_body())
    assert set(body) == {"id", "type", "payload", "created_at", "correlation_id", "attributes"}
    assert UUID(body["id"]) == UUID(envelope.id)  # ours are UUIDs
    assert Envelope.from_body(envelope.to_body()) == envelope


def test_each_envelope_gets_its_own_id_and_correlation_id() -> None:
    first, second = (Envelope(type="t", payload={}) for _ in range(2))
    assert first.id != second.id
    assert first.correlation_id != second.correlation_id
    assert first.created_at.tzinfo is not None


def test_an_envelope_made_or_read_shares_the_one_empty_origin_rather_than_a_copy() -> None:
    """A copy per envelope (pydantic deep-copies a private attribute's plain default) cost
    more than validating the envelope itself."""
    made = Envelope(type="t", payload={})
    read = Envelope.from_body(made.to_body())
    assert made.origin is SENT
    assert read.origin is SENT
    received = read.received(Origin(format="json", message_id="m-1"))
    assert received.origin.message_id == "m-1"
    assert made.origin is SENT  # the shared one is replaced, never changed


def test_type_and_correlation_id_travel_as_message_attributes() -> None:
    envelope = Envelope(type="a.b", payload={}, correlation_id="c-1", attributes={"tenant": "x"})
    attributes = envelope.message_attributes()
    assert attributes["type"] == {"DataType": "String", "StringValue": "a.b"}
    assert attributes["correlation_id"]["StringValue"] == "c-1"
    assert attributes["tenant"]["StringValue"] == "x"


def test_size_counts_body_and_attributes() -> None:
    small = Envelope(type="t", payload={})
    bigger = small.model_copy(update={"attributes": {"k": "v" * 100}})
    assert small.outgoing().size > len(small.to_body())
    assert bigger.outgoing().size >= small.outgoing().size + 100


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"type": "t"}),  # no payload
        json.dumps({"type": "", "payload": {}}),
        json.dumps({"type": "t", "payload": [1]}),
        json.dumps({"id": "tab\tin id", "type": "t", "payload": {}}),
        json.dumps({"id": "x" * 257, "type": "t", "payload": {}}),
        json.dumps({"type": "t", "payload": {}, "unknown": 1}),
    ],
)
def test_anything_but_an_envelope_is_refused(body: str) -> None:
    with pytest.raises(ValidationError):
        Envelope.from_body(body)


@pytest.mark.parametrize(
    "attributes",
    [
        {"type": "x"},  # reserved by the envelope
        {"AWS.trace": "x"},
        {"amazon.thing": "x"},
        {"a..b": "x"},
        {".a": "x"},
        {"bad name": "x"},
        {"empty": ""},
        {f"a{i}": "x" for i in range(MAX_USER_ATTRIBUTES + 1)},
    ],
)
def test_attributes_follow_sqs_rules(attributes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Envelope(type="t", payload={}, attributes=attributes)


def test_the_largest_allowed_attribute_set_is_accepted() -> None:
    attributes = {f"a{i}": "x" for i in range(MAX_USER_ATTRIBUTES)}
    envelope = Envelope(type="t", payload={}, attributes=attributes)
    trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    assert len(envelope.message_attributes(trace)) == 10
