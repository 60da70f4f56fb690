"""How long each queue's oldest message has waited, from CloudWatch, for the dashboard.

SQS has no attribute for it: the age is CloudWatch's `ApproximateAgeOfOldestMessage`, which
SQS publishes once a minute per queue. One GetMetricData call reads it for every watched
queue, at most once a minute and only while a page is open (the caller asks only then). A
CloudWatch that cannot be read (no permission, a local endpoint without it) leaves the ages
unknown; it is logged once and asked again ten minutes later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.aws import AwsError, translate_errors

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

log = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0
"""SQS publishes the metric once a minute; reading it more often finds nothing new."""
RETRY_AFTER_ERROR_SECONDS = 600.0
LOOK_BACK = timedelta(minutes=10)
"""How far back the newest datapoint is looked for: SQS's metrics arrive minutes late."""
MAX_QUERIES = 500
"""GetMetricData's limit per call."""


class OldestAges:
    """The newest `ApproximateAgeOfOldestMessage` of each queue, read at most once a minute."""

    def __init__(
        self,
        client: CloudWatchClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.clock = clock
        self.now = now
        self.reads = 0
        self._ages: dict[str, float] = {}
        self._next_read = 0.0
        self._warned = False

    def ages(self, names: Sequence[str]) -> dict[str, float]:
        """Seconds by queue name; a queue without a datapoint is left out."""
        if self.clock() < self._next_read:
            return self._ages
        try:
            self._ages = self._read(names)
            self._next_read = self.clock() + REFRESH_SECONDS
        except AwsError as exc:
            self._ages = {}
            self._next_read = self.clock() + RETRY_AFTER_ERROR_SECONDS
            if not self._warned:
                self._warned = True
                log.warning("queue ages unknown: CloudWatch cannot be read (%s)", exc)
        return self._ages

    def _read(self, names: Sequence[str]) -> dict[str, float]:
        self.reads += 1
        end = self.now().replace(microsecond=0)
        ages: dict[str, float] = {}
        for start in range(0, len(names), MAX_QUERIES):
            chunk = names[start : start + MAX_QUERIES]
            with translate_errors("CloudWatch", "AWS/SQS ApproximateAgeOfOldestMessage"):
                answer = self.client.get_metric_data(
                    MetricDataQueries=[_query(index, name) for index, name in enumerate(chunk)],
                    StartTime=end - LOOK_BACK,
                    EndTime=end,
                    ScanBy="TimestampDescending",
                )
            for result in answer.get("MetricDataResults", []):
                values = result.get("Values", [])
                if values:  # newest first
                    ages[chunk[int(result.get("Id", "q0")[1:])]] = float(values[0])
        return ages


def _query(index: int, queue: str) -> MetricDataQueryTypeDef:
    return {
        "Id": f"q{index}",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
        "ReturnData": True,
    }
