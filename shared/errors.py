"""The few failures callers of the SQS wrapper act on, so none of them parses botocore errors."""

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


class SqsRequestError(SqsError):
    """SQS refused the request itself; retrying the same request will not help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class MessageTooLargeError(SqsError):
    """A message exceeds the queue's MaximumMessageSize."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message is {size} bytes; the queue accepts at most {limit}")
        self.size = size
        self.limit = limit
