"""Endpoints per service: botocore's own per-service variable wins over SQS_ENDPOINT_URL."""

from __future__ import annotations

import pytest

from shared.aws import build_client
from shared.settings import Settings


def test_every_service_uses_the_sqs_endpoint_unless_its_own_variable_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(_env_file=None, sqs={"endpoint_url": "http://127.0.0.1:4566"})
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    assert build_client("dynamodb", settings).meta.endpoint_url == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000")
    assert build_client("dynamodb", settings).meta.endpoint_url == "http://127.0.0.1:5000"
    assert build_client("sqs", settings).meta.endpoint_url == "http://127.0.0.1:4566"
    assert build_client("sns", settings).meta.endpoint_url == "http://127.0.0.1:4566"


def test_an_empty_topics_file_means_no_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPICS_FILE", "")
    assert Settings(_env_file=None).topics.file is None
