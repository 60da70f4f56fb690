"""Bodies as AWS services write them, from the services' documentation: what our consumer
must read without their senders knowing anything of us."""

from __future__ import annotations

import json
from typing import Any

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:orders"


def sns_notification(
    message: str, attributes: dict[str, tuple[str, str]] | None = None, **fields: Any
) -> str:
    """What an SQS subscription without raw delivery receives for one publish."""
    body: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": "b3c5e1a2-9f7d-5c1e-8f3a-2d4b6c8e0f1a",
        "TopicArn": TOPIC_ARN,
        "Message": message,
        "Timestamp": "2026-11-30T12:00:00.123Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE" + "pH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0Q" * 3,
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        + TOPIC_ARN
        + ":e1a2b3c4",
    }
    if attributes:
        body["MessageAttributes"] = {
            name: {"Type": kind, "Value": value} for name, (kind, value) in attributes.items()
        }
    body.update(fields)
    return json.dumps(body)


def s3_record(
    key: str = "incoming/report+2026%3F.csv", event: str = "ObjectCreated:Put"
) -> dict[str, Any]:
    """One record of an S3 event notification (event structure version 2.1)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-30T12:00:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "incoming-csv",
            "bucket": {
                "name": "reports",
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": "arn:aws:s3:::reports",
            },
            "object": {
                "key": key,
                "size": 1024,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko",
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def s3_notification(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records) or [s3_record()]})


S3_TEST_EVENT = json.dumps(
    {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-30T12:00:00.000Z",
        "Bucket": "reports",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
)


def eventbridge_event(
    detail: dict[str, Any] | None = None,
    source: str = "aws.ec2",
    detail_type: str = "EC2 Instance State-change Notification",
) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2026-11-30T12:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
            "detail": detail
            if detail is not None
            else {"instance-id": "i-abcd1111", "state": "pending"},
        }
    )
