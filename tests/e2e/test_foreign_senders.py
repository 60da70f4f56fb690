"""Messages other systems write, sent by real senders over moto's server to a real consumer:
the AWS CLI, plain boto3, and an SNS topic subscribed without raw message delivery (the AWS
and CDK default). Each reaches the handler its type names (or the default handler), nothing
is dead-lettered, and an id-less envelope keeps one id across a retry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from tests.e2e.conftest import Stack, StackFactory, depth
from tests.support import shell_env, wait_for

AWS_CLI = Path(sys.executable).parent / "aws"


def aws_cli(stack: Stack, *args: str) -> None:
    """The AWS CLI, as another team's script would run it."""
    env = shell_env(
        **{
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    ran = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", stack.endpoint, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr


def records(stack: Stack) -> list[dict[str, Any]]:
    if not stack.record.exists():
        return []
    return [json.loads(line) for line in stack.record.read_text().splitlines()]


def typed(type_: str) -> str:
    return json.dumps({"type": {"DataType": "String", "StringValue": type_}})


def test_foreign_senders_reach_their_handlers_and_nothing_is_dead_lettered(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(CONSUMER_HANDLERS="tests.e2e.foreign_handlers")
    url = stack.queues.queue_url
    send = ("sqs", "send-message", "--queue-url", url, "--message-body")
    aws_cli(stack, *send, '{"order_id": "CLI-1"}', "--message-attributes", typed("foreign.order"))
    aws_cli(stack, *send, '{"order_id": "CLI-2"}')  # raw JSON, no type: the default handler
    aws_cli(stack, *send, "plain words from a script")  # text: the default handler
    aws_cli(stack, *send, '{"type": "foreign.flaky", "payload": {"n": 1}}')  # an id-less envelope

    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"order_id": "BOTO-1"}),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": "foreign.order"},
            "priority": {"DataType": "Number", "StringValue": "7"},
        },
    )

    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name="us-east-1")
    topic = sns.create_topic(Name="foreign-orders")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(  # no RawMessageDelivery: SNS wraps each message in a notification
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    sns.publish(
        TopicArn=topic,
        Message=json.dumps({"order_id": "SNS-1"}),
        MessageAttributes={"type": {"DataType": "String", "StringValue": "foreign.order"}},
    )
    enveloped = {"id": "01J9ZQ4S7N0Q6B1W3E8R5T2Y4U", "type": "foreign.order"}
    sns.publish(TopicArn=topic, Message=json.dumps({**enveloped, "payload": {"order_id": "SNS-2"}}))

    def all_handled() -> bool:
        seen = records(stack)
        return (
            len([r for r in seen if r["handler"] != "flaky"]) >= 6
            and len([r for r in seen if r["handler"] == "flaky"]) >= 2
        )

    wait_for(all_handled, timeout=60, what=f"every message handled\n{stack.consumer.output_tail()}")
    seen = records(stack)
    orders = {r["payload"]["order_id"]: r for r in seen if r["handler"] == "order"}
    assert set(orders) == {"CLI-1", "BOTO-1", "SNS-1", "SNS-2"}
    assert orders["CLI-1"]["format"] == "json"
    assert orders["SNS-1"]["sns_topic"] == topic
    assert orders["SNS-2"]["sns_topic"] == topic
    assert orders["SNS-2"]["format"] == "envelope"
    assert orders["SNS-2"]["id"] == enveloped["id"]  # a ULID is an id too
    defaults = {r["format"]: r for r in seen if r["handler"] == "default"}
    assert defaults["json"]["payload"] == {"order_id": "CLI-2"}
    assert defaults["text"]["payload"] == "plain words from a script"
    attempts = [r["id"] for r in seen if r["handler"] == "flaky"]
    assert len(attempts) == 2
    assert attempts[0] == attempts[1]  # the retry is the same message, not a new one
    assert depth(stack.queue(stack.settings.sqs.dlq_name)) == 0
