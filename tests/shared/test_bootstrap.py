from __future__ import annotations

import json

import boto3
import pytest

from shared.bootstrap import main
from shared.settings import Settings
from shared.topology.queues import DLQ_RETENTION_SECONDS
from shared.topology.resources import ensure_queues
from tests.conftest import make_settings


def redrive_policy(queue_url: str) -> dict[str, str]:
    client = boto3.client("sqs", region_name="us-east-1")
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    return dict(json.loads(attributes["Attributes"]["RedrivePolicy"]))


def test_creates_the_queue_redriving_into_its_dead_letter_queue(
    settings: Settings, mocked_aws: None
) -> None:
    pair = ensure_queues(settings)
    assert pair.queue_url.endswith("/messages")
    assert pair.dlq_url.endswith("/messages-dlq")
    policy = redrive_policy(pair.queue_url)
    assert policy["deadLetterTargetArn"] == pair.dlq_arn
    assert int(policy["maxReceiveCount"]) == settings.sqs.max_receive_count
    client = boto3.client("sqs", region_name="us-east-1")
    dlq = client.get_queue_attributes(QueueUrl=pair.dlq_url, AttributeNames=["All"])["Attributes"]
    assert int(dlq["MessageRetentionPeriod"]) == DLQ_RETENTION_SECONDS


def test_is_idempotent_and_converges_on_new_settings(mocked_aws: None) -> None:
    first = ensure_queues(make_settings(max_receive_count=3))
    again = ensure_queues(make_settings(max_receive_count=3))
    assert again == first
    changed = ensure_queues(make_settings(max_receive_count=9, visibility_timeout=45))
    assert changed.queue_url == first.queue_url
    assert int(redrive_policy(first.queue_url)["maxReceiveCount"]) == 9
    client = boto3.client("sqs", region_name="us-east-1")
    names = client.list_queues()["QueueUrls"]
    assert sorted(names) == sorted([first.queue_url, first.dlq_url])


def test_cli_prints_the_queue_urls(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SQS_QUEUE_NAME", "cli-queue")
    assert main([]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["queue_url"].endswith("/cli-queue")
    assert printed["dlq_url"].endswith("/messages-dlq")


def test_cli_fails_cleanly_when_the_endpoint_is_down(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.processes import free_port

    monkeypatch.setenv("SQS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SQS_MAX_ATTEMPTS", "1")
    assert main(["--wait", "0.5"]) == 1


def test_the_idempotency_table_is_created_only_for_the_dynamodb_store(mocked_aws: None) -> None:
    from shared.topology.resources import ensure_resources

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    ensure_resources(make_settings())
    assert dynamodb.list_tables()["TableNames"] == []
    settings = make_settings()
    settings.consumer.idempotency_store = "dynamodb"
    settings.consumer.idempotency_table = "seen-messages"
    ensure_resources(settings)
    ensure_resources(settings)
    assert dynamodb.list_tables()["TableNames"] == ["seen-messages"]
