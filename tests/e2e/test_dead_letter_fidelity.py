"""A dead letter is the message as it was sent: ten attributes of every data type, written
by the AWS CLI, survive the dead-letter queue, `sqs-admin dlq peek` and a redrive, byte for
byte, though the dead-letter record needs an eleventh slot."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from tests.e2e.conftest import Stack, StackFactory, depth
from tests.e2e.test_foreign_senders import aws_cli
from tests.support import ROOT, post_json, shell_env, wait_for

BLOB = "\x00\x01 raw ✓ \x7f".encode()
"""The AWS CLI (v1) sends a Binary value's JSON text as its UTF-8 bytes: these bytes."""
SENT: dict[str, dict[str, Any]] = {
    "type": {"DataType": "String", "StringValue": "foreign.refused"},
    "tenant": {"DataType": "String", "StringValue": "acme ✓"},
    "priority": {"DataType": "Number", "StringValue": "42"},
    "ratio": {"DataType": "Number", "StringValue": "-0.125"},
    "count": {"DataType": "Number.int", "StringValue": "7"},
    "meta": {"DataType": "String.json", "StringValue": '{"a": [1, 2]}'},
    "blob": {"DataType": "Binary", "BinaryValue": BLOB},
    "thumb": {"DataType": "Binary.png", "BinaryValue": b"PNG\r\n\x1a"},
    "region": {"DataType": "String", "StringValue": "eu-west-1"},
    "trace": {"DataType": "String", "StringValue": "00-abc-def-01"},
}


def as_cli_json(attributes: dict[str, dict[str, Any]]) -> str:
    """The attributes as the CLI's JSON: a Binary value as the text whose bytes it is."""
    return json.dumps(
        {
            name: {
                **value,
                **(
                    {"BinaryValue": value["BinaryValue"].decode()} if "BinaryValue" in value else {}
                ),
            }
            for name, value in attributes.items()
        }
    )


def admin(stack: Stack, *args: str) -> str:
    env = shell_env(**{k: v for k, v in stack.env.items() if k.startswith(("SQS_", "AWS_"))})
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "sqs-admin"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def test_ten_attributes_of_every_type_survive_the_dead_letter_queue_and_a_redrive(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(CONSUMER_HANDLERS="tests.e2e.foreign_handlers")
    body = '{"order_id": "F-1"}'
    aws_cli(
        stack,
        *("sqs", "send-message", "--queue-url", stack.queues.queue_url),
        *("--message-body", body, "--message-attributes", as_cli_json(SENT)),
    )
    dlq = stack.queue(stack.settings.sqs.dlq_name)
    wait_for(lambda: depth(dlq) == 1, timeout=30, what="the refused message dead-lettered")
    assert stack.consumer.stop() == 0  # nothing takes it while it is redriven

    [peeked] = json.loads(admin(stack, "dlq", "peek", "--json"))
    assert peeked["reason"] == "permanent_error"
    assert set(peeked["attributes"]) == set(SENT)  # all ten, the displaced one put back
    assert peeked["attributes"]["blob"] == "base64:" + base64.b64encode(BLOB).decode()

    assert "moved 1 messages" in admin(stack, "dlq", "redrive")
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1")
    received = sqs.receive_message(
        QueueUrl=stack.queues.queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=5
    )
    [back] = received["Messages"]
    assert back["Body"] == body
    got = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in back["MessageAttributes"].items()
    }
    assert got == SENT


def test_a_subscribed_fifo_queues_poison_message_lands_in_its_own_fifo_dlq(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(
        CONSUMER_HANDLERS="tests.e2e.foreign_handlers",
        TOPICS_FILE=str(ROOT / "topics.example.toml"),
        CONSUMER_QUEUES="ledger.fifo",
    )
    status, answer = post_json(
        f"{stack.producer_url}/topics/payments.fifo/messages",
        {
            "type": "foreign.refused",
            "payload": {"payment": "P-1"},
            "group_id": "account-7",
            "attributes": {"tenant": "acme"},
        },
    )
    assert status == 202, answer
    own = stack.queue("ledger-dlq.fifo")
    wait_for(lambda: depth(own) == 1, timeout=30, what="the poison message in ledger-dlq.fifo")
    assert depth(stack.queue(stack.settings.sqs.dlq_name)) == 0
    [letter] = own.receive(max_messages=1, wait_time_seconds=1)
    assert letter.group_id == "account-7"  # the FIFO group kept
