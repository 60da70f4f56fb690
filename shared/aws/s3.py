"""Objects in S3 buckets: where AWS's extended clients store bodies too large for a queue.

Shaped like `SqsQueue`: the only code that calls boto3's S3 client, raising only the
errors of `shared.aws.errors`, a missing object as `ObjectMissingError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.aws.clients import build_client
from shared.aws.errors import AwsError, AwsRequestError, translate_errors

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

    from shared.settings import Settings

SERVICE = "S3"
MAX_DELETE_KEYS = 1000
"""DeleteObjects takes at most this many keys per call."""
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class ObjectMissingError(AwsError):
    """The object is not there (deleted already, or never written)."""

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(f"s3://{bucket}/{key} does not exist", SERVICE)
        self.bucket = bucket
        self.key = key


class S3Objects:
    """Objects in any bucket the credentials reach; safe to share between threads."""

    service = SERVICE

    def __init__(self, client: S3Client) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Objects:
        return cls(build_client("s3", settings))

    def get(self, bucket: str, key: str) -> bytes:
        """The object's bytes; raises `ObjectMissingError` when there is none."""
        try:
            with translate_errors(SERVICE, f"{bucket}/{key}"):
                response = self.client.get_object(Bucket=bucket, Key=key)
                return response["Body"].read()
        except AwsRequestError as exc:
            if exc.code in _MISSING_CODES:
                raise ObjectMissingError(bucket, key) from exc
            raise

    def delete(self, bucket: str, keys: Sequence[str]) -> list[str]:
        """Delete objects, a thousand per call; returns the keys S3 did not delete (a
        missing key counts as deleted, as S3 itself says)."""
        failed: list[str] = []
        for start in range(0, len(keys), MAX_DELETE_KEYS):
            chunk = keys[start : start + MAX_DELETE_KEYS]
            with translate_errors(SERVICE, bucket):
                response = self.client.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
                )
            failed += [error["Key"] for error in response.get("Errors", []) if "Key" in error]
        return failed
