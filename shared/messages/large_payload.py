"""Bodies too large for a queue, stored in S3 by AWS's extended clients and read back.

AWS's extended clients (Java's `amazon-sqs-java-extended-client-lib`, Python's
`amazon-sqs-extended-client`, and the SNS ones) store a large body as an S3 object and send
instead the JSON array `["software.amazon.payloadoffloading.PayloadS3Pointer",
{"s3BucketName": ..., "s3Key": ...}]` with a Number attribute `ExtendedPayloadSize` holding
the body's size in bytes. Older Java clients wrote `SQSLargePayloadSize` and the class
`com.amazon.sqs.javamessaging.MessageS3Pointer`; both are read, so a team's producers on
any of those clients feed our handlers unchanged.

The attribute, not the body's shape, says a message is a pointer: a body that only looks
like one is left alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from typing_extensions import override

from shared.aws.s3 import S3Objects

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from shared.settings import Settings

SIZE_ATTRIBUTE = "ExtendedPayloadSize"
LEGACY_SIZE_ATTRIBUTE = "SQSLargePayloadSize"
SIZE_ATTRIBUTES = (SIZE_ATTRIBUTE, LEGACY_SIZE_ATTRIBUTE)
"""Reserved: a message carrying either is a pointer to an S3 object."""
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"
POINTER_CLASSES = frozenset({POINTER_CLASS, LEGACY_POINTER_CLASS})


class PointerError(ValueError):
    """The size attribute is there but the body is not a pointer the extended clients write."""


@dataclass(frozen=True)
class PayloadPointer:
    """Where a message's real body is."""

    bucket: str
    key: str

    @override
    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def pointer_of(
    body: str, attributes: Mapping[str, MessageAttributeValueTypeDef]
) -> PayloadPointer | None:
    """The pointer a message carries; None for a message with its body inline.

    Raises `PointerError` when the size attribute says pointer and the body is not one.
    """
    if not any(name in attributes for name in SIZE_ATTRIBUTES):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    match parsed:
        case [str() as kind, {"s3BucketName": str(bucket), "s3Key": str(key)}] if (
            kind in POINTER_CLASSES and bucket and key
        ):
            return PayloadPointer(bucket, key)
    raise PointerError(
        f"the {'/'.join(SIZE_ATTRIBUTES)} attribute says the body is in S3, but the body "
        f'is not a pointer ["{POINTER_CLASS}", {{"s3BucketName": ..., "s3Key": ...}}]'
    )


class LargePayloads:
    """Reads stored bodies back from S3 and deletes them; one per process, safe to share
    between threads. Any bucket a pointer names is read: the sender chose it."""

    def __init__(self, objects: S3Objects) -> None:
        self.objects = objects

    @classmethod
    def from_settings(cls, settings: Settings) -> LargePayloads:
        return cls(S3Objects.from_settings(settings))

    def fetch(self, pointer: PayloadPointer) -> str:
        """The stored body; raises `ObjectMissingError` if it is gone, `AwsError` otherwise."""
        return self.objects.get(pointer.bucket, pointer.key).decode("utf-8", errors="replace")

    def discard(self, pointers: Sequence[PayloadPointer]) -> list[PayloadPointer]:
        """Delete stored bodies, one call per bucket; returns the ones S3 did not delete."""
        by_bucket: dict[str, list[str]] = defaultdict(list)
        for pointer in pointers:
            by_bucket[pointer.bucket].append(pointer.key)
        kept: list[PayloadPointer] = []
        for bucket, keys in by_bucket.items():
            kept += [PayloadPointer(bucket, key) for key in self.objects.delete(bucket, keys)]
        return kept
