"""Fixtures for every test: isolated AWS environment, moto (in-process and HTTP server)."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from scripts.moto_server import serialize_sqs
from shared.settings import Settings, get_settings
from shared.topology.queues import QueuePair
from shared.topology.resources import ensure_queues

serialize_sqs()  # SQS calls atomic, as on SQS, in every test that uses moto


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may reach real AWS or read the developer's own settings and credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SQS_ENDPOINT_URL", "SQS_QUEUE_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)  # botocore's own endpoint variables would win over ours
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def make_settings(**sqs: object) -> Settings:
    """Settings for tests: short polls, short visibility, no .env file."""
    values: dict[str, object] = {"wait_time_seconds": 0, "visibility_timeout": 1}
    values.update(sqs)
    return Settings(_env_file=None, sqs=values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def queues(settings: Settings, mocked_aws: None) -> QueuePair:
    return ensure_queues(settings)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's HTTP server on a free loopback port, shared by the session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str) -> str:
    """The server's URL, its state wiped so every test starts with no queues."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200
    return moto_server
