from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import Settings, get_settings


def build() -> Settings:
    return Settings(_env_file=None)


def test_defaults_match_the_documented_ones() -> None:
    settings = build()
    assert settings.sqs.endpoint_url is None  # real AWS unless told otherwise
    assert settings.sqs.queue_name == "messages"
    assert settings.sqs.dlq_name == "messages-dlq"
    assert settings.sqs.wait_time_seconds == 20
    assert settings.sqs.batch_size == 10
    assert settings.producer.port == 8000
    assert settings.consumer.port == 8001


def test_environment_variables_map_to_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("SQS_QUEUE_NAME", "orders")
    monkeypatch.setenv("SQS_MAX_RECEIVE_COUNT", "7")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_PROFILE", "staging")
    monkeypatch.setenv("PRODUCER_PORT", "9000")
    monkeypatch.setenv("CONSUMER_HANDLERS", "app.orders, app.emails")
    settings = build()
    assert str(settings.sqs.endpoint_url) == "http://127.0.0.1:4566/"
    assert settings.sqs.queue_name == "orders"
    assert settings.sqs.max_receive_count == 7
    assert settings.aws.region == "eu-west-1"
    assert settings.aws.profile == "staging"
    assert settings.producer.port == 9000
    assert settings.consumer.handlers == ["app.orders", "app.emails"]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SQS_QUEUE_NAME=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().sqs.queue_name == "from-dotenv"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SQS_WAIT_TIME_SECONDS", "21"),  # SQS caps long polls at 20 s
        ("SQS_BATCH_SIZE", "11"),
        ("SQS_MAX_RECEIVE_COUNT", "zero"),
        ("SQS_ENDPOINT_URL", "not a url"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_fail_fast(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        build()


def test_queue_and_dead_letter_queue_must_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQS_DLQ_NAME", "messages")
    with pytest.raises(ValidationError, match="different queues"):
        build()


def test_settings_are_read_when_first_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQS_QUEUE_NAME", "first")
    assert get_settings().sqs.queue_name == "first"
    monkeypatch.setenv("SQS_QUEUE_NAME", "second")
    assert get_settings().sqs.queue_name == "first"  # cached for the process
    get_settings.cache_clear()
    assert get_settings().sqs.queue_name == "second"
