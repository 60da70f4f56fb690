"""Fixtures for the producer's tests: in-process apps, and real `python -m producer` processes."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from producer.main import create_app
from scripts.processes import HOST, free_port
from shared.aws import SqsQueue
from shared.settings import Settings
from shared.topology.queues import QueuePair
from shared.topology.resources import ensure_resources
from tests.support import Service, http_status, service_env, wait_for


@pytest.fixture
def client(settings: Settings, queues: QueuePair) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def stored(settings: Settings, queues: QueuePair) -> SqsQueue:
    """The queue as the consumer sees it, to check what was (not) stored."""
    return SqsQueue.from_settings(settings)


class Producer:
    """A `python -m producer` process a test started: its port, memory, metrics and log."""

    def __init__(self, port: int, service: Service, log: Path) -> None:
        self.port = port
        self.service = service
        self.log = log

    @property
    def url(self) -> str:
        """The live feed's address."""
        return f"ws://{HOST}:{self.port}/feed"

    def rss(self) -> int:
        status = Path(f"/proc/{self.service.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) * 1024

    def metric(self, name: str) -> float:
        """The sum of a counter's samples from /metrics."""
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        )

    def bad_lines(self) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines()
        words = (" ERROR ", "Traceback", "Task exception was never retrieved", "CRITICAL")
        return [line for line in lines if any(word in line for word in words)]


ProducerFactory = Callable[..., Producer]


@pytest.fixture
def start_producer(moto_endpoint: str, tmp_path: Path) -> Iterator[ProducerFactory]:
    started: list[Producer] = []

    def start(*, args: Sequence[str] = ("-m", "producer"), **overrides: str) -> Producer:
        """A producer started with `args` and the environment `overrides`, once healthy."""
        with pytest.MonkeyPatch.context() as env_for_setup:
            for name, value in service_env(moto_endpoint).items():
                env_for_setup.setenv(name, value)
            ensure_resources(Settings(_env_file=None, sqs={"endpoint_url": moto_endpoint}))
        port = free_port()
        log = tmp_path / f"producer-{port}.log"
        env = service_env(moto_endpoint, PRODUCER_PORT=str(port), **overrides)
        producer = Producer(port, Service(list(args), env, log), log)
        started.append(producer)
        wait_for(
            lambda: http_status(f"http://{HOST}:{port}/healthz") == 200,
            timeout=30,
            what=f"producer healthy\n{producer.service.output_tail()}",
        )
        return producer

    yield start
    for producer in started:
        assert producer.service.stop() == 0, producer.service.output_tail()
