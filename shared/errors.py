"""The few failures callers of the SQS and SNS wrappers act on, so none parses botocore errors.

SNS failures use the same classes: a caller reacts to "unavailable, try later" or "refused,
do not retry" the same way whichever service said it.
"""

from __future__ import annotations


class SqsError(Exception):
    """Any failure talking to SQS."""


class SqsUnavailableError(SqsError):
    """SQS could not be reached, timed out, or kept throttling after retries: try later."""


class QueueNotFoundError(SqsError):
    """The configured queue does not exist (bootstrap has not run, or the name is wrong)."""

    def __init__(self, queue_name: str) -> None:
        super().__init__(f"queue {queue_name!r} does not exist")
        self.queue_name = queue_name


class TopicNotFoundError(SqsError):
    """The topic does not exist (bootstrap has not run, or the name is wrong)."""

    def __init__(self, topic_name: str) -> None:
        super().__init__(f"topic {topic_name!r} does not exist")
        self.topic_name = topic_name


class SqsRequestError(SqsError):
    """SQS (or SNS) refused the request itself; retrying the same request will not help."""

    def __init__(self, code: str, message: str, service: str = "SQS") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.reason = message
        self.service = service


class MessageTooLargeError(SqsError):
    """A message exceeds the queue's MaximumMessageSize (or what a topic accepts)."""

    def __init__(self, size: int, limit: int, target: str = "the queue") -> None:
        super().__init__(f"message is {size} bytes; {target} accepts at most {limit}")
        self.size = size
        self.limit = limit
