"""The published JSON Schema of the envelope: current, and judged by a validator we did not
write (jsonschema), which must refuse what the consumer refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from shared.messages.envelope import Envelope
from shared.messages.schema import envelope_schema, render
from tests.support import ROOT

PUBLISHED = ROOT / "docs" / "envelope.schema.json"
VALIDATOR = Draft202012Validator(
    json.loads(PUBLISHED.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
)


def test_the_published_schema_is_what_the_model_generates() -> None:
    assert PUBLISHED.read_text() == render(), (
        "run: python -m shared.messages.schema > docs/envelope.schema.json"
    )
    Draft202012Validator.check_schema(envelope_schema())


def test_bodies_our_producer_writes_are_valid() -> None:
    envelope = Envelope(type="order.created", payload={"n": 1}, attributes={"tenant": "acme"})
    assert VALIDATOR.is_valid(json.loads(envelope.to_body()))
    assert VALIDATOR.is_valid({"type": "t", "payload": {}})  # the rest has defaults


@pytest.mark.parametrize(
    "body",
    [
        {"payload": {}},
        {"type": "t"},
        {"type": "", "payload": {}},
        {"type": "-starts-badly", "payload": {}},
        {"type": "t", "payload": []},
        {"type": "t", "payload": {}, "id": "new\nline"},
        {"type": "t", "payload": {}, "unknown": 1},
        {"type": "t", "payload": {}, "attributes": {"bad name": "v"}},
        {"type": "t", "payload": {}, "attributes": {"a": ""}},
        {"type": "t", "payload": {}, "attributes": {f"a{n}": "v" for n in range(9)}},
    ],
)
def test_what_the_schema_refuses_the_consumer_refuses_too(body: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid(body)
    with pytest.raises(ValidationError):
        Envelope.from_body(json.dumps(body))
