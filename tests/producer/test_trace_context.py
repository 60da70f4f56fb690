"""A POST's trace continues into the message it sends: the caller's traceparent, or a new
trace, reaches the stored message's attributes and the request's log line."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shared.aws import SqsQueue
from tests.json_log import json_log

ORDER = {"type": "order.created", "payload": {"order_id": "A-1"}}
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def stored_traceparent(stored: SqsQueue) -> str | None:
    (message,) = stored.receive(max_messages=10, wait_time_seconds=0)
    return message.text_attribute("traceparent")


def test_the_callers_trace_reaches_the_message_and_the_log_line(
    client: TestClient, stored: SqsQueue
) -> None:
    with json_log() as captured:
        answer = client.post("/messages", json=ORDER, headers={"traceparent": CALLER})
    assert answer.status_code == 202
    carried = stored_traceparent(stored)
    assert carried is not None
    version, trace_id, span_id, flags = carried.split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    assert span_id != "00f067aa0ba902b7"  # the send's own span, the consumer's parent
    (line,) = [x for x in captured.lines() if x["logger"] == "producer.requests"]
    assert line["trace_id"] == CALLER_TRACE


def test_a_post_without_a_trace_starts_one(client: TestClient, stored: SqsQueue) -> None:
    with json_log() as captured:
        assert client.post("/messages", json=ORDER).status_code == 202
        assert client.post("/messages", json=ORDER, headers={"traceparent": "junk"}).is_success
    (line, junk) = [x for x in captured.lines() if x["logger"] == "producer.requests"]
    assert len(line["trace_id"]) == 32
    assert line["trace_id"] != "0" * 32
    assert junk["trace_id"] != line["trace_id"]
    messages = stored.receive(max_messages=10, wait_time_seconds=0)
    traces = {str(m.text_attribute("traceparent")).split("-")[1] for m in messages}
    assert traces == {line["trace_id"], junk["trace_id"]}
