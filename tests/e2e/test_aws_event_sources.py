"""Events AWS itself writes, made by the endpoint: an S3 bucket notification to the queue and
an EventBridge rule with the queue as target, read by a real consumer over moto's server."""

from __future__ import annotations

import json
import urllib.request

import boto3

from tests.e2e.conftest import StackFactory, depth
from tests.e2e.test_foreign_senders import records
from tests.support import wait_for


def skipped_test_events(consumer_url: str) -> float:
    with urllib.request.urlopen(f"{consumer_url}/metrics", timeout=5) as answer:  # noqa: S310
        text = answer.read().decode()
    for line in text.splitlines():
        if line.startswith('sqs_messages_skipped_total{kind="s3:TestEvent"}'):
            return float(line.split()[-1])
    return 0.0


def test_s3_notifications_and_eventbridge_events_reach_typed_handlers(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(CONSUMER_HANDLERS="tests.e2e.foreign_handlers")
    endpoint, region = stack.endpoint, "us-east-1"
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=stack.queues.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(
        Bucket="uploads",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket="uploads", Key="reports/monthly report?.pdf", Body=b"x" * 1024)

    events = boto3.client("events", endpoint_url=endpoint, region_name=region)
    events.put_rule(Name="payments", EventPattern=json.dumps({"source": ["com.example.billing"]}))
    events.put_targets(Rule="payments", Targets=[{"Id": "queue", "Arn": queue_arn}])
    events.put_events(
        Entries=[
            {
                "Source": "com.example.billing",
                "DetailType": "PaymentSettled",
                "Detail": json.dumps({"payment_id": "P-1", "amount": 12.5}),
            },
            {"Source": "com.example.other", "DetailType": "Ignored", "Detail": "{}"},
        ]
    )

    def both_handled() -> bool:
        kinds = {r["handler"] for r in records(stack)}
        return {"s3", "eventbridge"} <= kinds

    wait_for(both_handled, timeout=30, what=f"both events handled\n{stack.consumer.output_tail()}")
    seen = records(stack)
    [upload] = [r for r in seen if r["handler"] == "s3"]
    assert upload["payload"] == {
        "bucket": "uploads",
        "key": "reports/monthly report?.pdf",
        "size": 1024,
    }
    assert upload["type"] == "aws.s3:ObjectCreated:Put"
    assert upload["format"] == "s3"
    [payment] = [r for r in seen if r["handler"] == "eventbridge"]
    assert payment["payload"]["detail"] == {"payment_id": "P-1", "amount": 12.5}
    assert payment["payload"]["source"] == "com.example.billing"
    assert payment["payload"]["detail_type"] == "PaymentSettled"
    assert payment["id"] == payment["payload"]["id"]  # the event's id is the envelope's
    assert [r for r in seen if r["handler"] == "default"] == []  # the rule matched one event
    assert depth(stack.queue(stack.settings.sqs.dlq_name)) == 0
    wait_for(  # S3 sent one when the notification was set up: counted, not dead-lettered
        lambda: skipped_test_events(stack.consumer_url) == 1,
        timeout=10,
        what="the s3:TestEvent counted",
    )
