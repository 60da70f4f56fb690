"""An SNS notification: what an SQS subscription delivers without raw message delivery
(the default of the AWS console, CloudFormation and CDK).

The notification is unwrapped and the message it carries is read again, in any format
but another notification. Its `MessageAttributes` become the message's attributes, and its
`MessageId` (the same on every delivery of it), `TopicArn`, `Timestamp` and `Subject` stay
on the envelope's `origin.sns`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from shared.messages.envelope import SnsNotice
from shared.messages.formats.received import NotReadableError, Received, timestamp

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


def notice_of(data: dict[str, Any]) -> SnsNotice | None:
    """The notification's own fields; None when `data` is not an SNS notification."""
    if data.get("Type") != "Notification" or "TopicArn" not in data or "Message" not in data:
        return None
    message_id, topic_arn = data.get("MessageId"), data.get("TopicArn")
    if not isinstance(message_id, str) or not message_id or not isinstance(topic_arn, str):
        raise NotReadableError("an SNS notification without a MessageId or TopicArn")
    if not isinstance(data["Message"], str):
        raise NotReadableError("an SNS notification whose Message is not a string")
    subject = data.get("Subject")
    return SnsNotice(
        message_id=message_id,
        topic_arn=topic_arn,
        timestamp=timestamp(data.get("Timestamp")),
        subject=subject if isinstance(subject, str) else None,
    )


def unwrap(data: dict[str, Any], received: Received) -> Received | None:
    """What the notification carries, ready to be read again; None if it is not one."""
    notice = notice_of(data)
    if notice is None:
        return None
    return received.inner(data["Message"], notice, attributes(data.get("MessageAttributes")))


def attributes(raw: object) -> dict[str, MessageAttributeValueTypeDef]:
    """SNS's `{"name": {"Type": ..., "Value": ...}}` as SQS message attributes, types kept
    (a Binary value is base64 in the notification, bytes here)."""
    if not isinstance(raw, dict):
        return {}
    converted: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            continue
        kind, text = value.get("Type"), value.get("Value")
        if not isinstance(kind, str) or not isinstance(text, str):
            continue
        if kind.startswith("Binary"):
            try:
                converted[name] = {"DataType": kind, "BinaryValue": base64.b64decode(text)}
            except (binascii.Error, ValueError):
                raise NotReadableError(f"SNS attribute {name!r} is not base64") from None
        else:
            converted[name] = {"DataType": kind, "StringValue": text}
    return converted
