"""A running system for end-to-end tests: moto's HTTP server, producer and consumer processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.processes import free_port
from shared.aws import SqsQueue
from shared.settings import Settings
from shared.topology.queues import QueuePair
from shared.topology.resources import ensure_resources
from tests.support import Service, http_status, service_env, wait_for

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    endpoint: str
    settings: Settings
    queues: QueuePair
    producer_url: str
    consumer_url: str
    record: Path
    producer: Service
    consumer: Service
    env: dict[str, str] = field(default_factory=dict)
    """The services' environment; `start_consumer` starts more consumers with it."""
    log_dir: Path = field(default_factory=Path)
    services: list[Service] = field(default_factory=list)
    """Every process started for this stack, so teardown stops them all."""

    def handled_ids(self) -> list[str]:
        return self.record.read_text().split() if self.record.exists() else []

    def queue(self, name: str | None = None) -> SqsQueue:
        return SqsQueue.from_settings(self.settings, queue_name=name)

    def start_producer(self, **overrides: str) -> str:
        """Start another producer process (own port and log), as a second replica behind a
        load balancer would be, and wait until ready; returns its URL."""
        _, url = self._start("producer", "/readyz", overrides)
        return url

    def start_consumer(self, **overrides: str) -> Service:
        """Start another consumer process (own status port and log) and wait until healthy.

        It becomes `consumer` and `consumer_url`; the previous one keeps running unless
        the test stopped it.
        """
        self.consumer, self.consumer_url = self._start("consumer", "/healthz", overrides)
        return self.consumer

    def _start(self, module: str, probe: str, overrides: dict[str, str]) -> tuple[Service, str]:
        """`python -m <module>` with the stack's environment on a port of its own, once
        `probe` answers 200."""
        port = str(free_port())
        log = self.log_dir / f"{module}-{len(self.services)}.log"
        env = {**self.env, **overrides, f"{module.upper()}_PORT": port}
        service = Service(["-m", module], env, log)
        self.services.append(service)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: http_status(f"{url}{probe}") == 200,
            timeout=30,
            what=f"{module} up\n{service.output}",
        )
        return service, url


def depth(queue: SqsQueue) -> int:
    """Visible, in-flight and delayed messages together."""
    return queue.depth().total


StackFactory = Callable[..., Stack]


@pytest.fixture
def start_stack(moto_endpoint: str, tmp_path: Path) -> Iterator[StackFactory]:
    """Start producer and consumer against the test endpoint; every one must stop with exit 0.

    The services reach SQS at SQS_ENDPOINT_URL when given (a proxy, say); the test itself
    always talks to moto's server directly.
    """
    started: list[Stack] = []

    def start(**overrides: str) -> Stack:
        values = {
            "SQS_WAIT_TIME_SECONDS": "1",
            "SQS_VISIBILITY_TIMEOUT": "5",
            "CONSUMER_HANDLERS": "tests.e2e.recording_handlers",
            "E2E_RECORD_FILE": str(tmp_path / "handled.txt"),
            "PRODUCER_PORT": str(free_port()),
            "CONSUMER_PORT": str(free_port()),
            **overrides,
        }
        env = service_env(moto_endpoint, **values)
        settings = Settings(
            _env_file=None,
            sqs={
                "endpoint_url": moto_endpoint,
                "queue_name": values.get("SQS_QUEUE_NAME", "messages"),
                "dlq_name": values.get("SQS_DLQ_NAME", "messages-dlq"),
                "max_receive_count": int(values.get("SQS_MAX_RECEIVE_COUNT", "5")),
                "visibility_timeout": int(values["SQS_VISIBILITY_TIMEOUT"]),
            },
            topics={"file": values.get("TOPICS_FILE")},
            consumer={
                "idempotency_store": values.get("CONSUMER_IDEMPOTENCY_STORE", "memory"),
                "idempotency_table": values.get("CONSUMER_IDEMPOTENCY_TABLE", "sqs-idempotency"),
            },
            producer={
                "status_store": values.get("PRODUCER_STATUS_STORE", "memory"),
                "status_table": values.get("PRODUCER_STATUS_TABLE", "sqs-message-status"),
            },
        )
        queues = ensure_resources(settings)
        producer = Service(["-m", "producer"], env, tmp_path / "producer.log")
        consumer = Service(["-m", "consumer"], env, tmp_path / "consumer.log")
        stack = Stack(
            moto_endpoint,
            settings,
            queues,
            f"http://127.0.0.1:{values['PRODUCER_PORT']}",
            f"http://127.0.0.1:{values['CONSUMER_PORT']}",
            Path(values["E2E_RECORD_FILE"]),
            producer,
            consumer,
            env,
            tmp_path,
            [producer, consumer],
        )
        started.append(stack)
        wait_for(
            lambda: http_status(f"{stack.producer_url}/readyz") == 200,
            timeout=30,
            what=f"producer ready\n{producer.output}",
        )
        wait_for(
            lambda: http_status(f"{stack.consumer_url}/healthz") == 200,
            timeout=30,
            what=f"consumer healthy\n{consumer.output}",
        )
        return stack

    yield start
    unclean = []
    for stack in started:
        for service in stack.services:
            if service.alive():
                try:
                    code = service.stop()
                except AssertionError as exc:  # ignored SIGTERM: stop() killed it
                    unclean.append(str(exc))
                    continue
                if code != 0:
                    unclean.append(f"exit {code}:\n{service.output[-2000:]}")
    assert not unclean, unclean
