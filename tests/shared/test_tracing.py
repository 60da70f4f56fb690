"""The trace context across the queue, with no SDK installed: every hop still has ids, the
trace id carries over, and what a message brings (traceparent, AWSTraceHeader) is its parent."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from shared import log_context, tracing
from shared.messages.envelope import MAX_USER_ATTRIBUTES, Envelope

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def ids(span: object) -> tuple[str, str]:
    context = span.get_span_context()  # type: ignore[attr-defined]
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def test_a_span_continues_its_parents_trace_with_a_span_id_of_its_own() -> None:
    parent = tracing.incoming({"traceparent": CALLER, "tracestate": "vendor=1"})
    with tracing.span("send messages", SpanKind.PRODUCER, parent=parent) as span:
        trace_id, span_id = ids(span)
        assert trace_id == CALLER_TRACE
        assert span_id != "00f067aa0ba902b7"
        assert log_context.current()["trace_id"] == CALLER_TRACE
        assert log_context.current()["span_id"] == span_id
        carried = tracing.outgoing()
    assert carried["traceparent"] == f"00-{CALLER_TRACE}-{span_id}-01"
    assert carried["tracestate"] == "vendor=1"
    assert "trace_id" not in log_context.current()


def test_without_a_parent_each_span_starts_a_new_trace_and_children_stay_in_it() -> None:
    with (
        tracing.span("POST /messages", SpanKind.SERVER) as first,
        tracing.span("send messages", SpanKind.PRODUCER) as child,
    ):
        assert ids(child)[0] == ids(first)[0]
        assert ids(child)[1] != ids(first)[1]
    with tracing.span("POST /messages", SpanKind.SERVER) as second:
        assert ids(second)[0] != ids(first)[0]
    assert ids(first)[0] != "0" * 32


def test_a_message_continues_its_traceparent_else_its_aws_trace_header() -> None:
    xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    both = tracing.of_message({"traceparent": CALLER}, xray)
    assert both is not None
    assert format(tracing.span_context_of(both).trace_id, "032x") == CALLER_TRACE
    only_xray = tracing.of_message({"traceparent": "00-garbage-01"}, xray)
    assert only_xray is not None
    context = tracing.span_context_of(only_xray)
    assert format(context.trace_id, "032x") == "5759e988bd862e3fe1be46a994272793"
    assert format(context.span_id, "016x") == "53995c3f42cd8ad8"
    assert context.trace_flags.sampled
    assert tracing.of_message({}, None) is None
    assert tracing.of_message({}, "Root=1-00000000-000000000000000000000000;Parent=0") is None


def test_the_envelope_carries_traceparent_and_tracestate_only_with_a_slot_to_spare() -> None:
    trace = {"traceparent": CALLER, "tracestate": "vendor=1"}
    roomy = Envelope(type="t", payload={}, attributes={"a": "1"}).message_attributes(trace)
    assert roomy["traceparent"]["StringValue"] == CALLER
    assert roomy["tracestate"]["StringValue"] == "vendor=1"
    full = {f"a{n}": "x" for n in range(MAX_USER_ATTRIBUTES)}
    crowded = Envelope(type="t", payload={}, attributes=full).message_attributes(trace)
    assert len(crowded) == MAX_USER_ATTRIBUTES + 3 <= 10
    assert "traceparent" in crowded
    assert "tracestate" not in crowded  # one slot stays for a large payload's size


@pytest.mark.parametrize("name", ["traceparent", "tracestate"])
def test_a_client_cannot_set_the_trace_attributes_itself(name: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        Envelope(type="t", payload={}, attributes={name: CALLER})
