"""The producer with SQS taken out: the HTTP ceiling (d) that (c) is measured against.

`python -m bench.noop_producer` serves the real app, built by the real `create_app` and run by
uvicorn with the producer's own options, over a queue whose sends succeed at once without any
network. Whatever (c) loses against this is lost to SQS and to the consumer, not to HTTP,
validation or the batcher, which both share. No product code changes for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import boto3
from typing_extensions import override

from producer.__main__ import serve
from producer.main import create_app
from shared.aws import BatchSendResult, OutgoingMessage, SendResult, SqsQueue
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

MAX_MESSAGE_SIZE = 262_144
UNREACHABLE = "http://127.0.0.1:9"
"""The discard port: should anything slip past the overrides, it fails loudly, not silently."""


def _offline_client() -> SQSClient:
    """A client that is never called; building one opens no connection."""
    return boto3.session.Session().client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=UNREACHABLE,
        aws_access_key_id="noop",
        aws_secret_access_key="noop",  # noqa: S106 - not a secret: nothing is ever sent
    )


class NoopQueue(SqsQueue):
    """A queue that accepts every send at once and reaches nothing."""

    def __init__(self, queue_name: str) -> None:
        super().__init__(_offline_client(), queue_name)
        self._max_size = MAX_MESSAGE_SIZE

    @override
    def max_message_size(self) -> int:
        return MAX_MESSAGE_SIZE

    @override
    def ping(self) -> None:
        return None

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        return BatchSendResult([SendResult(m.id, str(uuid.uuid4())) for m in messages])


def main() -> None:
    """Serve like `python -m producer` does, from the same environment variables."""
    settings = get_settings()
    settings.sqs.events_queue_name = None  # no status events to read without a network
    serve(create_app(settings, queue=NoopQueue(settings.sqs.queue_name)), settings)


if __name__ == "__main__":
    main()
