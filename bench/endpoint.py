"""The SQS endpoint under the benchmark (moto's server, here) and fresh queues on it.

Every measurement gets its own queue pair, created with the project's own bootstrap and
deleted afterwards, so no measurement inherits another's depth. Queue URLs are always asked
of the endpoint, never built.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from scripts.processes import (
    HOST,
    Child,
    free_port,
    http_post,
    start,
    stopped_on_failure,
    wait_http_ok,
)
from shared.aws.clients import build_client
from shared.settings import Settings
from shared.topology.resources import ensure_queues

STARTUP_SECONDS = 60.0


@dataclass
class Endpoint:
    """A running local SQS endpoint: its name, base URL and process."""

    name: str
    url: str
    port: int
    child: Child
    resettable: bool = False
    dynamodb: bool = False
    """Whether it serves DynamoDB too, for the status path's measurement."""

    def reset(self) -> None:
        """Forget every queue (moto only): a clean slate for the next set of measurements."""
        if self.resettable and http_post(f"{self.url}/moto-api/reset") != 200:
            raise RuntimeError(f"could not reset {self.name} at {self.url}")


def start_moto(env: Mapping[str, str], log_dir: Path) -> Endpoint:
    port = free_port()
    child = start("moto", ["-m", "scripts.moto_server", "-H", HOST, "-p", str(port)], env, log_dir)
    url = f"http://{HOST}:{port}"
    with stopped_on_failure(child):
        wait_http_ok(f"{url}/moto-api/data.json", child, STARTUP_SECONDS)
    return Endpoint("moto", url, port, child, resettable=True, dynamodb=True)


def settings_for(endpoint_url: str, queue_name: str, wait_seconds: int) -> Settings:
    """Settings naming one bench queue pair on `endpoint_url` (direct or through the proxy)."""
    return Settings(
        _env_file=None,
        sqs={
            "endpoint_url": endpoint_url,
            "queue_name": queue_name,
            "dlq_name": f"{queue_name}-dlq",
            "wait_time_seconds": wait_seconds,
        },
    )


def new_queue_name(label: str) -> str:
    return f"bench-{label}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def fresh_queues(endpoint_url: str, label: str, wait_seconds: int) -> Iterator[Settings]:
    """A new queue pair for one measurement, deleted when it is over."""
    settings = settings_for(endpoint_url, new_queue_name(label), wait_seconds)
    client = build_client("sqs", settings)
    pair = ensure_queues(settings, client)
    try:
        yield settings
    finally:
        for url in (pair.queue_url, pair.dlq_url):
            with contextlib.suppress(BotoCoreError, ClientError):
                client.delete_queue(QueueUrl=url)


def probe_round_trip(endpoint_url: str, wait_seconds: int, calls: int = 20) -> float:
    """Median seconds of one SendMessage: the unit "an SQS round trip" is counted in."""
    with fresh_queues(endpoint_url, "rtt", wait_seconds) as settings:
        client = build_client("sqs", settings)
        url = client.get_queue_url(QueueName=settings.sqs.queue_name)["QueueUrl"]
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            client.send_message(QueueUrl=url, MessageBody="round trip")
            times.append(time.perf_counter() - started)
    return statistics.median(times)
