"""One error family for every AWS call, each error naming the service that failed.

Callers act on what they can do about a failure, "try later" or "do not retry", never on
botocore's exceptions; and an operator reads which service it was, so a DynamoDB outage
never reads as an SQS one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError

_MISSING = {
    "SQS": ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"),
    "SNS": ("NotFound",),
}
_TRANSIENT = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
        "Throttled",
        "KMSThrottling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)


class AwsError(Exception):
    """Any failure of an AWS call; `service` names the one that failed ("SQS", "SNS", ...)."""

    def __init__(self, message: str, service: str) -> None:
        super().__init__(message)
        self.service = service


class AwsUnavailableError(AwsError):
    """The service could not be reached, timed out, or kept throttling after retries: try later."""


class AwsRequestError(AwsError):
    """The service refused the request itself; sending the same request again will not help."""

    def __init__(self, code: str, message: str, service: str) -> None:
        super().__init__(f"{code}: {message}", service)
        self.code = code
        self.reason = message


class QueueNotFoundError(AwsError):
    """The queue does not exist (bootstrap has not run, or the name is wrong)."""

    def __init__(self, queue_name: str) -> None:
        super().__init__(f"queue {queue_name!r} does not exist", "SQS")
        self.queue_name = queue_name


class TopicNotFoundError(AwsError):
    """The topic does not exist (bootstrap has not run, or the name is wrong)."""

    def __init__(self, topic_name: str) -> None:
        super().__init__(f"topic {topic_name!r} does not exist", "SNS")
        self.topic_name = topic_name


class MessageTooLargeError(AwsError):
    """A message exceeds what its destination accepts; found before anything is sent."""

    def __init__(self, size: int, limit: int, target: str, service: str) -> None:
        super().__init__(f"message is {size} bytes; {target} accepts at most {limit}", service)
        self.size = size
        self.limit = limit


@contextmanager
def translate_errors(service: str, resource: str) -> Iterator[None]:
    """Re-raise botocore failures of a call to `service` about `resource` (a queue, topic or
    table name) as `AwsError`s that say what the caller can do about them."""
    try:
        yield
    except NoCredentialsError as exc:
        raise AwsUnavailableError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
            service,
        ) from exc
    except ParamValidationError as exc:
        raise AwsRequestError("ParamValidation", str(exc), service) from exc
    except BotoCoreError as exc:
        raise AwsUnavailableError(f"{service} unreachable: {exc}", service) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        message = error.get("Message", str(exc))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if service == "SQS" and code.endswith(_MISSING["SQS"]):
            raise QueueNotFoundError(resource) from exc
        if service == "SNS" and code in _MISSING["SNS"]:
            raise TopicNotFoundError(resource) from exc
        if code in _TRANSIENT or status >= 500:
            raise AwsUnavailableError(
                f"{service} unavailable ({code}): {message}", service
            ) from exc
        raise AwsRequestError(code, message, service) from exc
