"""One trace across real processes, exported by the SDK over OTLP: the POST's caller, the
producer's send, the consumer's processing as its child and the receive linked to it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from tests.e2e.conftest import StackFactory
from tests.e2e.otlp_receiver import ExportedSpan, OtlpReceiver
from tests.support import post_json, wait_for

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def exporting_to(collector: OtlpReceiver) -> dict[str, str]:
    """The services export their spans to `collector`, a tenth of a second after each."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


def test_the_consumers_span_is_the_child_of_the_producers_send_in_the_callers_trace(
    start_stack: StackFactory, collector: OtlpReceiver
) -> None:
    stack = start_stack(**exporting_to(collector))
    sent = post_json(
        f"{stack.producer_url}/messages",
        {"type": "e2e.record", "payload": {}},
        headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
    )
    assert sent[0] == 202

    def in_trace(name: str) -> list[ExportedSpan]:
        return [s for s in collector.named(name) if s.trace_id == CALLER_TRACE]

    wait_for(
        lambda: in_trace("process messages") and in_trace("send messages"),
        timeout=20,
        what=f"the consumer's span\n{collector.spans}",
    )
    (server,) = in_trace("POST /messages")
    (send,) = in_trace("send messages")
    (process,) = in_trace("process messages")
    assert (server.service, server.kind, server.parent_span_id) == (
        "producer",
        "SPAN_KIND_SERVER",
        CALLER_SPAN,
    )
    assert (send.service, send.kind, send.parent_span_id) == (
        "producer",
        "SPAN_KIND_PRODUCER",
        server.span_id,
    )
    assert send.attributes["messaging.system"] == "aws_sqs"
    assert send.attributes["messaging.destination.name"] == "messages"
    assert send.attributes["messaging.message.id"] == sent[1]["message_id"]
    assert (process.service, process.kind, process.parent_span_id) == (
        "consumer",
        "SPAN_KIND_CONSUMER",
        send.span_id,
    )
    assert process.attributes["messaging.message.id"] == sent[1]["message_id"]
    assert process.attributes["messaging.operation.type"] == "process"

    def receives() -> list[ExportedSpan]:
        linked = (CALLER_TRACE, send.span_id)
        return [s for s in collector.named("receive messages") if linked in s.links]

    wait_for(lambda: receives(), timeout=10, what=f"the receive's span\n{collector.spans}")
    assert len(receives()) == 1
    assert receives()[0].attributes["messaging.batch.message_count"] >= 1
    assert receives()[0].service == "consumer"


def test_a_publishers_traceparent_reaches_the_consumer_through_an_sns_notification(
    start_stack: StackFactory, collector: OtlpReceiver
) -> None:
    """moto's SNS delivers without raw delivery, so the context is inside the body."""
    stack = start_stack(**exporting_to(collector))
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name="us-east-1")
    topic = sns.create_topic(Name="traced-orders")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=stack.queues.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(
        TopicArn=topic,
        Message=json.dumps({"order_id": "SNS-1"}),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": "e2e.record"},
            "traceparent": {
                "DataType": "String",
                "StringValue": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
            },
        },
    )

    def processed() -> list[ExportedSpan]:
        return [s for s in collector.named("process messages") if s.trace_id == CALLER_TRACE]

    wait_for(processed, timeout=20, what=f"the consumer's span\n{collector.spans}")
    (process,) = processed()
    assert (process.service, process.parent_span_id) == ("consumer", CALLER_SPAN)
