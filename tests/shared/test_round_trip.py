"""A property, by hypothesis: whatever JSON the producer accepts, the consumer reads back equal."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from producer.schemas import MessageIn
from shared.messages.envelope import Envelope
from shared.messages.json_text import JsonRefusedError, parse_strict

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: they must be refused, never changed
    | st.text(),  # any code point but lone surrogates, which JSON text cannot hold
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(), json_values, max_size=5))
def test_what_the_producer_accepts_the_consumer_parses_back_equal(payload: dict[str, Any]) -> None:
    text = json.dumps({"type": "t", "payload": payload})  # NaN and Infinity as Python writes them
    try:
        parsed = parse_strict(text)
    except JsonRefusedError:
        return
    envelope = MessageIn.model_validate(parsed).to_envelope()
    assert Envelope.from_body(envelope.to_body()).payload == parsed["payload"]
