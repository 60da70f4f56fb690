from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.aws.clients import DEFAULT_REGION, build_client
from tests.conftest import make_settings


def test_retries_and_timeouts_are_set_deliberately() -> None:
    settings = make_settings(max_attempts=4, read_timeout=7, wait_time_seconds=20)
    short = build_client("sqs", settings)
    long_poll = build_client("sqs", settings, long_poll=True)
    short_config, long_config = vars(short.meta.config), vars(long_poll.meta.config)
    assert short_config["retries"] == {"mode": "standard", "total_max_attempts": 4}
    assert short_config["read_timeout"] == 7
    # A long poll must not time out before SQS answers an empty receive.
    assert long_config["read_timeout"] == 27


def test_endpoint_setting_selects_the_endpoint() -> None:
    client = build_client("sqs", make_settings(endpoint_url="http://127.0.0.1:4566"))
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert "amazonaws.com" in build_client("sqs", make_settings()).meta.endpoint_url


def test_region_and_credentials_come_from_a_named_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile staging]\nregion = eu-central-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[staging]\naws_access_key_id = AKIDSTAGING\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    settings = make_settings()
    settings.aws.profile = "staging"
    client = build_client("sqs", settings)
    assert client.meta.region_name == "eu-central-1"
    signer: Any = client._request_signer  # type: ignore[attr-defined]
    assert signer._credentials.access_key == "AKIDSTAGING"


def test_region_falls_back_when_nothing_sets_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert build_client("sqs", make_settings()).meta.region_name == DEFAULT_REGION


def test_every_attempt_is_counted_as_a_request() -> None:
    from prometheus_client import CollectorRegistry

    from scripts.processes import free_port
    from shared.aws import AwsUnavailableError, SqsQueue
    from shared.aws.request_metrics import count_requests, requests_counter

    registry = CollectorRegistry()
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=3, connect_timeout=0.2
    )
    client = build_client("sqs", settings)
    count_requests(client, requests_counter(registry))
    with pytest.raises(AwsUnavailableError):
        SqsQueue(client, "q").ping()
    labels = {"service": "sqs", "operation": "GetQueueUrl"}
    assert registry.get_sample_value("aws_requests_total", labels) == 3
