"""Large payloads on the consumer's side, with AWS's own extended client as the writer."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef
from sqs_extended_client.client import SQSExtendedClientSession

from consumer.metrics import Metrics
from consumer.registry import HandlerRegistry, PermanentError
from consumer.worker import Worker
from shared.aws import ReceivedMessage, SqsQueue, build_client
from shared.messages.dead_letter import DeadLetter
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.queues import QueuePair
from tests.conftest import make_settings
from tests.consumer.conftest import counter

BUCKET = "large-payloads"
BIG = "x" * (300 * 1024)  # over the extended client's 256 KiB threshold


@pytest.fixture
def bucket(queues: QueuePair) -> str:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return BUCKET


def objects() -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture
def extended(bucket: str) -> Any:
    """AWS's Python extended client, as another team's producer would use it."""
    session = SQSExtendedClientSession(region_name="us-east-1")  # type: ignore[no-untyped-call]
    client: Any = session.client("sqs")
    client.large_payload_support = bucket
    client.s3_client = boto3.client("s3", region_name="us-east-1")
    return client


def handled_by(registry: HandlerRegistry, message_type: str) -> list[Any]:
    seen: list[Any] = []
    registry.register(message_type, lambda payload, envelope: seen.append((payload, envelope)))
    return seen


def dlq_messages(queues: QueuePair) -> list[Any]:
    """The dead-letter queue as it is, read by our own client: once `sqs_extended_client` is
    imported, boto3's clients are extended ones that fetch what a pointer points to."""
    client = build_client("sqs", make_settings())
    response = client.receive_message(
        QueueUrl=queues.dlq_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )
    return list(response.get("Messages", []))


def test_a_message_the_extended_client_stored_in_s3_is_handled_whole_and_its_object_removed(
    extended: Any, queues: QueuePair, queue: SqsQueue, worker: Worker, registry: HandlerRegistry
) -> None:
    seen = handled_by(registry, "report")
    envelope = Envelope(type="report", payload={"data": BIG})
    extended.send_message(QueueUrl=queues.queue_url, MessageBody=envelope.to_body())
    [key] = objects()  # the extended client stored the body in S3
    worker.run(until_empty=True)
    [(payload, received)] = seen
    assert payload == {"data": BIG}
    assert received.id == envelope.id
    assert received.origin.stored_in == f"s3://{BUCKET}/{key}"
    assert objects() == [], "the object is deleted once the message is acknowledged"


def test_raw_json_from_the_extended_client_is_routed_by_its_type_attribute(
    extended: Any, queues: QueuePair, worker: Worker, registry: HandlerRegistry
) -> None:
    seen = handled_by(registry, "report")
    extended.send_message(
        QueueUrl=queues.queue_url,
        MessageBody=json.dumps({"data": BIG}),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "report"}},
    )
    worker.run(until_empty=True)
    [(payload, received)] = seen
    assert payload == {"data": BIG}
    assert received.origin.format == "json"


def test_the_legacy_attribute_and_pointer_class_are_read_too(
    bucket: str, queues: QueuePair, queue: SqsQueue, worker: Worker, registry: HandlerRegistry
) -> None:
    seen = handled_by(registry, "report")
    body = Envelope(type="report", payload={"n": 1}).to_body()
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=bucket, Key="k1", Body=body)
    pointer = json.dumps(
        ["com.amazon.sqs.javamessaging.MessageS3Pointer", {"s3BucketName": bucket, "s3Key": "k1"}]
    )
    queue.client.send_message(
        QueueUrl=queues.queue_url,
        MessageBody=pointer,
        MessageAttributes={
            "SQSLargePayloadSize": {"DataType": "Number", "StringValue": str(len(body))}
        },
    )
    worker.run(until_empty=True)
    assert [payload for payload, _ in seen] == [{"n": 1}]


def test_with_deletion_off_the_object_stays_for_other_readers(
    extended: Any, queues: QueuePair, queue: SqsQueue, registry: HandlerRegistry
) -> None:
    settings = make_settings(large_payload_delete=False)
    worker = Worker(queue, registry, settings, Metrics())
    seen = handled_by(registry, "report")
    extended.send_message(
        QueueUrl=queues.queue_url, MessageBody=Envelope(type="report", payload={"d": BIG}).to_body()
    )
    worker.run(until_empty=True)
    assert len(seen) == 1
    assert len(objects()) == 1


def test_a_dead_letter_keeps_the_pointer_and_the_object(
    extended: Any, queues: QueuePair, worker: Worker, registry: HandlerRegistry
) -> None:
    def refuse(payload: dict[str, Any]) -> None:
        raise PermanentError("not today")

    registry.register("report", refuse)
    extended.send_message(
        QueueUrl=queues.queue_url, MessageBody=Envelope(type="report", payload={"d": BIG}).to_body()
    )
    worker.run(until_empty=True)
    [dead] = dlq_messages(queues)
    assert json.loads(dead["Body"])[0] == "software.amazon.payloadoffloading.PayloadS3Pointer"
    assert dead["MessageAttributes"]["ExtendedPayloadSize"]["DataType"] == "Number"
    assert len(objects()) == 1, "the object stays with its dead letter"
    # AWS's own client still reads the dead letter whole.
    [again] = extended.receive_message(
        QueueUrl=queues.dlq_url, MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    assert Envelope.from_body(again["Body"]).payload == {"d": BIG}


def test_a_pointer_whose_object_is_gone_is_dead_lettered_as_payload_missing(
    bucket: str, queues: QueuePair, queue: SqsQueue, worker: Worker
) -> None:
    pointer = json.dumps(
        [
            "software.amazon.payloadoffloading.PayloadS3Pointer",
            {"s3BucketName": bucket, "s3Key": "gone"},
        ]
    )
    size: dict[str, MessageAttributeValueTypeDef] = {
        "ExtendedPayloadSize": {"DataType": "Number", "StringValue": "500000"}
    }
    queue.client.send_message(
        QueueUrl=queues.queue_url, MessageBody=pointer, MessageAttributes=size
    )
    worker.run(until_empty=True)
    [dead] = dlq_messages(queues)
    letter = DeadLetter.from_message(ReceivedMessage.from_sqs(dead))
    assert letter.reason == "payload_missing"
    assert letter.error is not None
    assert "gone" in letter.error


def test_a_size_attribute_with_a_body_that_is_no_pointer_is_an_invalid_body(
    queues: QueuePair, queue: SqsQueue, worker: Worker
) -> None:
    size: dict[str, MessageAttributeValueTypeDef] = {
        "ExtendedPayloadSize": {"DataType": "Number", "StringValue": "10"}
    }
    queue.client.send_message(
        QueueUrl=queues.queue_url, MessageBody='{"not": "a pointer"}', MessageAttributes=size
    )
    worker.run(until_empty=True)
    [dead] = dlq_messages(queues)
    assert DeadLetter.from_message(ReceivedMessage.from_sqs(dead)).reason == "invalid_body"


def test_an_unreachable_s3_retries_the_message_rather_than_losing_it(
    queues: QueuePair, queue: SqsQueue, settings: Settings, registry: HandlerRegistry
) -> None:
    settings = make_settings(endpoint_url="http://127.0.0.1:9")
    worker = Worker(queue, registry, settings, Metrics())
    pointer = json.dumps(
        [
            "software.amazon.payloadoffloading.PayloadS3Pointer",
            {"s3BucketName": "b", "s3Key": "k"},
        ]
    )
    size: dict[str, MessageAttributeValueTypeDef] = {
        "ExtendedPayloadSize": {"DataType": "Number", "StringValue": "500000"}
    }
    queue.client.send_message(
        QueueUrl=queues.queue_url, MessageBody=pointer, MessageAttributes=size
    )
    worker.run(max_batches=1)
    assert counter(worker.metrics, "sqs_messages_retried_total") == 1
    assert dlq_messages(queues) == []
