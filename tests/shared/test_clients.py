"""Endpoints per service: botocore's own per-service variable wins over SQS_ENDPOINT_URL."""

from __future__ import annotations

import pytest

from consumer.idempotency import DynamoDBStore
from scripts.processes import free_port
from shared.aws import (
    AwsError,
    AwsUnavailableError,
    SnsTopic,
    TopicNotFoundError,
    build_client,
)
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


def test_an_outage_names_the_service_that_is_down() -> None:
    """A DynamoDB outage must not read as an SQS one, nor a topic's as a queue's."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        _env_file=None, sqs={"endpoint_url": closed, "max_attempts": 1, "connect_timeout": 0.5}
    )
    store = DynamoDBStore(build_client("dynamodb", settings), "table")
    with pytest.raises(AwsUnavailableError, match=r"^DynamoDB unreachable") as raised:
        store.claim("key", 5)
    assert raised.value.service == "DynamoDB"
    with pytest.raises(AwsUnavailableError, match=r"^SNS unreachable"):
        _ = SnsTopic.from_settings(settings, "orders").arn
    assert not issubclass(TopicNotFoundError, AwsUnavailableError)
    assert issubclass(TopicNotFoundError, AwsError)


def test_our_clients_stay_plain_sqs_clients_when_the_extended_client_is_imported(
    settings: Settings,
) -> None:
    """Importing AWS's extended client replaces boto3's Session process-wide; ours must not
    become extended clients that fetch bodies and rewrite receipt handles behind our back."""
    import sqs_extended_client  # noqa: F401  - the import is what patches boto3

    client = build_client("sqs", settings)
    assert not hasattr(client, "large_payload_support")
