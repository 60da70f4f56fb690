"""`LOG_FORMAT=json` on real processes: every line either service writes is one JSON object,
and the lines about a message carry its correlation id and its trace id (the POST's
traceparent) in the producer and the consumer, with no tracing SDK set up."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import StackFactory
from tests.support import post_json, wait_for

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line parsed; one that is not JSON fails the test, naming it."""
    lines = []
    for line in output.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return lines


def test_every_line_is_json_and_a_messages_lines_carry_its_correlation_id(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(LOG_FORMAT="json", SQS_MAX_RECEIVE_COUNT="1")
    sent = post_json(
        f"{stack.producer_url}/messages",
        {"type": "e2e.fail", "payload": {"n": 1}},
        headers={"X-Correlation-ID": "checkout-42", "traceparent": CALLER},
    )
    assert sent[0] == 202
    envelope_id = str(sent[1]["id"])

    def consumer_lines_about_it() -> list[dict[str, Any]]:
        return [
            line
            for line in json_lines(stack.consumer.output)
            if line.get("envelope_id") == envelope_id
        ]

    wait_for(
        lambda: any(line["level"] == "ERROR" for line in consumer_lines_about_it()),
        timeout=20,
        what=f"the consumer's lines about {envelope_id}\n{stack.consumer.output}",
    )
    for line in consumer_lines_about_it():
        assert line["service"] == "consumer"
        assert line["correlation_id"] == "checkout-42"
        assert line["message_id"] == sent[1]["message_id"]
        assert line["queue"] == "messages"
        assert line["trace_id"] == CALLER_TRACE
    posted = [
        line
        for line in json_lines(stack.producer.output)
        if line.get("route") == "/messages" and line.get("envelope_id") == envelope_id
    ]
    assert len(posted) == 1
    assert posted[0]["service"] == "producer"
    assert posted[0]["correlation_id"] == "checkout-42"
    assert posted[0]["status"] == 202
    assert posted[0]["trace_id"] == CALLER_TRACE
    for service in stack.services or [stack.producer, stack.consumer]:
        service.stop()
    json_lines(stack.producer.output)  # the shutdown's lines too
    json_lines(stack.consumer.output)
