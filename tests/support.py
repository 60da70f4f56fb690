"""Helpers for tests that run the services as real processes."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from typing_extensions import override

from scripts.processes import Child, http_get
from shared.aws.limits import MAX_BATCH_ENTRIES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shared.aws import BatchSendResult, OutgoingMessage, SendResult
    from shared.messages.envelope import Envelope

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None], *, timeout: float, interval: float = 0.1, what: str = ""
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


class BatchSending(Protocol):
    """A queue as `enqueue` uses it: `SqsQueue`, or a test's stand-in."""

    name: str

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult: ...


def enqueue(
    queue: BatchSending, *envelopes: Envelope, delay_seconds: int = 0, group_id: str | None = None
) -> list[SendResult]:
    """Send envelopes as the producer would, ten to a SendMessageBatch; on a FIFO queue
    (`group_id` given) each envelope deduplicates on its own id. Fails on any failed entry."""
    results: list[SendResult] = []
    for start in range(0, len(envelopes), MAX_BATCH_ENTRIES):
        messages = [
            envelope.outgoing(
                delay_seconds=delay_seconds,
                group_id=group_id,
                deduplication_id=str(envelope.id) if group_id is not None else None,
            )
            for envelope in envelopes[start : start + MAX_BATCH_ENTRIES]
        ]
        result = queue.send_batch(messages)
        if result.failed or len(result.sent) != len(messages):
            raise AssertionError(f"{queue.name}: not every message was sent: {result}")
        by_id = {sent.entry_id: sent for sent in result.sent}
        results.extend(by_id[message.id] for message in messages)
    return results


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status `url` answers with, or None when nothing answers."""
    answer = http_get(url, timeout)
    return answer[0] if answer else None


def post_json(
    url: str, body: Any, timeout: float = 10.0, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def shell_env(**overrides: str) -> dict[str, str]:
    """This process's environment as a fresh shell beside the services has it: none of the
    project's settings and no AWS credentials or endpoint, so a command reads only what it is
    given (a sourced `.run/local.env`, say)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SQS_", "PRODUCER_", "CONSUMER_", "AWS_"))
    }
    env.update(overrides)
    return env


def service_env(endpoint: str, **overrides: str) -> dict[str, str]:
    """The environment a service process gets: the test endpoint, dummy credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SQS_", "PRODUCER_", "CONSUMER_", "AWS_ENDPOINT_URL"))
    }
    env.pop("AWS_PROFILE", None)
    env.update(
        {
            "SQS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


class Service(Child):
    """A service started as `python <args>` for a test, its output in a log file. Stopping one
    that ignores the signal kills it and fails the test."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        super().__init__(log_path.stem, args, env, log_path=log_path)

    @override
    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signal the process and wait for it; returns its exit code."""
        code = super().stop(sig, timeout)
        if self.killed:
            raise AssertionError(f"{self.process.args!r} ignored signal {sig} for {timeout}s")
        return code
