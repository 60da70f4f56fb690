"""The workload `python -m bench.io_model` measures, written once per I/O model.

Each worker owns one queue and repeats SendMessageBatch of ten, ReceiveMessage of ten and
DeleteMessageBatch of what came back, so its queue holds ten messages at most (moto rescans a
queue on every call: a deep queue would measure moto, not the client). The two versions are
line for line the same apart from `await`, so the only difference measured is the I/O model:
threads sharing one boto3 client (urllib3) against tasks sharing one aiobotocore client
(aiohttp). aiobotocore is imported only here and only when called: it is not a dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.aws.clients import build_client
from shared.aws.limits import MAX_BATCH_ENTRIES
from shared.aws.request_metrics import count_requests

if TYPE_CHECKING:
    from typing import Unpack

    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestTypeDef,
        DeleteMessageBatchResultTypeDef,
        MessageTypeDef,
        ReceiveMessageRequestTypeDef,
        ReceiveMessageResultTypeDef,
        SendMessageBatchRequestEntryTypeDef,
        SendMessageBatchRequestTypeDef,
        SendMessageBatchResultTypeDef,
    )

    from shared.settings import Settings

BODY = "x" * 100
MAX_ROUNDS = 100_000
"""Per worker and measurement: a bound on the loop besides its deadline."""
CLIENT_OPTIONS = ("region_name", "retries", "connect_timeout", "read_timeout", "tcp_keepalive")
"""What `shared.aws.build_client` configures; both models' clients get the same values."""


class AsyncSqs(Protocol):
    """The three aiobotocore SQS calls the workload makes, typed with boto3's own stubs
    (aiobotocore ships none, and mypy runs where it is not installed)."""

    async def send_message_batch(
        self, **kwargs: Unpack[SendMessageBatchRequestTypeDef]
    ) -> SendMessageBatchResultTypeDef: ...

    async def receive_message(
        self, **kwargs: Unpack[ReceiveMessageRequestTypeDef]
    ) -> ReceiveMessageResultTypeDef: ...

    async def delete_message_batch(
        self, **kwargs: Unpack[DeleteMessageBatchRequestTypeDef]
    ) -> DeleteMessageBatchResultTypeDef: ...


@dataclass
class Tally:
    """What one worker saw; each worker has its own, so threads need no lock."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    deleted: int = 0

    def note(self, started: float) -> None:
        self.latencies.append(time.perf_counter() - started)

    @classmethod
    def merged(cls, tallies: Sequence[Tally]) -> Tally:
        return cls(
            latencies=[x for t in tallies for x in t.latencies],
            errors=sum(t.errors for t in tallies),
            sent=sum(t.sent for t in tallies),
            deleted=sum(t.deleted for t in tallies),
        )


def send_entries() -> list[SendMessageBatchRequestEntryTypeDef]:
    return [{"Id": str(n), "MessageBody": BODY} for n in range(MAX_BATCH_ENTRIES)]


def delete_entries(
    messages: Sequence[MessageTypeDef],
) -> list[DeleteMessageBatchRequestEntryTypeDef]:
    return [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]


def client_options(settings: Settings, pool: int) -> tuple[str, dict[str, Any]]:
    """Our clients' endpoint and settings, read off a client built the way our services build
    theirs, with a connection pool of `pool` (ours is 32; fewer than the workers would make
    the threads open a new connection per call)."""
    meta = build_client("sqs", settings).meta
    options = {name: getattr(meta.config, name) for name in CLIENT_OPTIONS}
    return meta.endpoint_url, {**options, "max_pool_connections": pool}


def threads_client(settings: Settings, pool: int) -> SQSClient:
    endpoint_url, options = client_options(settings, pool)
    client = boto3.session.Session().client(
        "sqs", endpoint_url=endpoint_url, config=Config(**options)
    )
    count_requests(client)  # our clients count their requests: the same cost on both sides
    return client


def thread_worker(client: SQSClient, url: str, stop_at: float) -> Tally:
    tally = Tally()
    for _ in range(MAX_ROUNDS):
        if time.monotonic() >= stop_at:
            break
        try:
            started = time.perf_counter()
            sent = client.send_message_batch(QueueUrl=url, Entries=send_entries())
            tally.note(started)
            tally.sent += len(sent.get("Successful", []))
            started = time.perf_counter()
            answer = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=MAX_BATCH_ENTRIES, WaitTimeSeconds=0
            )
            tally.note(started)
            if messages := answer.get("Messages", []):
                started = time.perf_counter()
                gone = client.delete_message_batch(QueueUrl=url, Entries=delete_entries(messages))
                tally.note(started)
                tally.deleted += len(gone.get("Successful", []))
        except (BotoCoreError, ClientError):
            tally.errors += 1
    return tally


def thread_round(
    pool: ThreadPoolExecutor, client: SQSClient, urls: Sequence[str], seconds: float
) -> Tally:
    """One worker thread per queue, all on one client, for `seconds`."""
    stop_at = time.monotonic() + seconds
    futures = [pool.submit(thread_worker, client, url, stop_at) for url in urls]
    return Tally.merged([future.result() for future in futures])


@contextlib.asynccontextmanager
async def aio_client(settings: Settings, pool: int) -> AsyncIterator[AsyncSqs]:
    """An aiobotocore SQS client with the same endpoint and settings as `threads_client`."""
    session = importlib.import_module("aiobotocore.session")
    config = importlib.import_module("aiobotocore.config")
    endpoint_url, options = client_options(settings, pool)
    creator = session.get_session().create_client(
        "sqs", endpoint_url=endpoint_url, config=config.AioConfig(**options)
    )
    async with creator as client:
        count_requests(client)
        yield cast("AsyncSqs", client)


async def task_worker(client: AsyncSqs, url: str, stop_at: float) -> Tally:
    tally = Tally()
    for _ in range(MAX_ROUNDS):
        if time.monotonic() >= stop_at:
            break
        try:
            started = time.perf_counter()
            sent = await client.send_message_batch(QueueUrl=url, Entries=send_entries())
            tally.note(started)
            tally.sent += len(sent.get("Successful", []))
            started = time.perf_counter()
            answer = await client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=MAX_BATCH_ENTRIES, WaitTimeSeconds=0
            )
            tally.note(started)
            if messages := answer.get("Messages", []):
                started = time.perf_counter()
                gone = await client.delete_message_batch(
                    QueueUrl=url, Entries=delete_entries(messages)
                )
                tally.note(started)
                tally.deleted += len(gone.get("Successful", []))
        except (BotoCoreError, ClientError):
            tally.errors += 1
    return tally


async def task_round(client: AsyncSqs, urls: Sequence[str], seconds: float) -> Tally:
    """One task per queue, all on one client, for `seconds`."""
    stop_at = time.monotonic() + seconds
    tallies = await asyncio.gather(*(task_worker(client, url, stop_at) for url in urls))
    return Tally.merged(tallies)
