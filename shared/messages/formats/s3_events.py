"""An S3 event notification, sent by a bucket straight to a queue (or through SNS).

Each record is one handler call, of type `aws.s3:<eventName>` (`aws.s3:ObjectCreated:Put`),
its payload the record as S3 wrote it; `S3EventRecord` is its model, the object key
decoded. The `s3:TestEvent` S3 sends when a notification is set up has no records: it is
acknowledged and counted, never dead-lettered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.envelope import AwsEvent, Envelope
from shared.messages.formats.received import NotReadableError, Received, timestamp

TYPE_PREFIX = "aws.s3:"
TEST_EVENT = "s3:TestEvent"
EVENT_SOURCE = "aws:s3"


class S3Bucket(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    arn: str | None = None


class S3Object(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    key: str
    """As S3 sends it: URL-encoded, a space as `+`. `S3EventRecord.key` decodes it."""
    size: int | None = None
    etag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")
    sequencer: str | None = None


class S3Entity(BaseModel):
    model_config = ConfigDict(extra="allow")

    bucket: S3Bucket
    object: S3Object


class S3EventRecord(BaseModel):
    """One record of an S3 event notification: annotate a handler's payload with it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event_name: str = Field(alias="eventName")
    event_time: datetime = Field(alias="eventTime")
    aws_region: str | None = Field(default=None, alias="awsRegion")
    s3: S3Entity

    @property
    def bucket(self) -> str:
        return self.s3.bucket.name

    @property
    def key(self) -> str:
        """The object key, decoded: `my+file%3F.txt` is `my file?.txt`."""
        return unquote_plus(self.s3.object.key)


def is_test_event(data: dict[str, Any]) -> bool:
    return data.get("Event") == TEST_EVENT and data.get("Service") == "Amazon S3"


def read(data: dict[str, Any], received: Received) -> list[Envelope] | None:
    """One envelope per record; None when `data` is not an S3 notification."""
    records = data.get("Records")
    if not isinstance(records, list) or not records:
        return None
    if not all(isinstance(r, dict) and r.get("eventSource") == EVENT_SOURCE for r in records):
        return None
    envelopes = []
    for index, record in enumerate(records):
        name = record.get("eventName")
        if not isinstance(name, str) or not name:
            raise NotReadableError(f"S3 record {index} has no eventName")
        resources = _bucket_arn(record)
        event = AwsEvent(
            source="aws.s3",
            detail_type=name,
            time=timestamp(record.get("eventTime")),
            region=record.get("awsRegion") if isinstance(record.get("awsRegion"), str) else None,
            resources=(resources,) if resources else (),
        )
        envelopes.append(
            received.foreign(
                "s3",
                payload=record,
                message_type=TYPE_PREFIX + name,
                # One id per record, the same on every receive of this message.
                envelope_id=received.message_id if index == 0 else f"{received.message_id}#{index}",
                created_at=event.time,
                event=event,
            )
        )
    return envelopes


def _bucket_arn(record: dict[str, Any]) -> str | None:
    s3 = record.get("s3")
    bucket = s3.get("bucket") if isinstance(s3, dict) else None
    arn = bucket.get("arn") if isinstance(bucket, dict) else None
    return arn if isinstance(arn, str) else None
