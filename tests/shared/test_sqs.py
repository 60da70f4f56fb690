from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from scripts.processes import free_port
from shared.aws import (
    AwsRequestError,
    AwsUnavailableError,
    MessageTooLargeError,
    QueueNotFoundError,
    SqsQueue,
    translate_errors,
)
from shared.messages.envelope import Envelope
from shared.settings import Settings
from shared.topology.queues import QueuePair
from tests.conftest import make_settings
from tests.support import enqueue


@pytest.fixture
def queue(settings: Settings, queues: QueuePair) -> SqsQueue:
    return SqsQueue.from_settings(settings)


def envelope(n: int = 0, **payload: Any) -> Envelope:
    return Envelope(type="test.event", payload={"n": n, **payload})


def test_send_then_receive_returns_the_envelope_and_its_attributes(queue: SqsQueue) -> None:
    sent = envelope(1)
    [result] = enqueue(queue, sent)
    [received] = queue.receive(max_messages=10, wait_time_seconds=0)
    assert received.message_id == result.message_id
    assert result.entry_id == str(sent.id)
    assert Envelope.from_body(received.body) == sent
    assert received.text_attribute("type") == "test.event"
    assert received.text_attribute("correlation_id") == sent.correlation_id
    assert received.receive_count == 1


def test_delete_batch_acknowledges_and_reports_bad_receipts(queue: SqsQueue) -> None:
    enqueue(queue, *(envelope(i) for i in range(3)))
    messages = queue.receive(max_messages=10, wait_time_seconds=0)
    assert len(messages) == 3
    failures = queue.delete_batch([m.receipt_handle for m in messages[:2]] + ["not-a-receipt"])
    assert [f.entry_id for f in failures] == ["2"]
    assert failures[0].sender_fault
    attributes = queue.attributes("ApproximateNumberOfMessagesNotVisible")
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_send_batch_reports_every_entry(queue: SqsQueue) -> None:
    batch = [envelope(i) for i in range(10)]
    result = queue.send_batch([e.outgoing() for e in batch])
    assert not result.failed
    assert sorted(r.entry_id for r in result.sent) == sorted(str(e.id) for e in batch)
    assert len({r.message_id for r in result.sent}) == 10


def test_release_makes_messages_visible_again_at_once(queue: SqsQueue) -> None:
    enqueue(queue, envelope())
    [first] = queue.receive(max_messages=1, wait_time_seconds=0)
    assert queue.receive(max_messages=1, wait_time_seconds=0) == []
    assert queue.change_visibility([(first.receipt_handle, 0)]) == []
    [again] = queue.receive(max_messages=1, wait_time_seconds=0)
    assert again.message_id == first.message_id
    assert again.receive_count == 2


def test_size_limit_is_read_from_the_queue(settings: Settings, queues: QueuePair) -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    client.set_queue_attributes(
        QueueUrl=queues.queue_url, Attributes={"MaximumMessageSize": "1024"}
    )
    queue = SqsQueue.from_settings(settings)
    assert queue.max_message_size() == 1024
    small = envelope(text="x" * 500)
    queue.check_size(small.outgoing())
    enqueue(queue, small)
    with pytest.raises(MessageTooLargeError) as caught:
        queue.check_size(envelope(text="x" * 1000).outgoing())
    assert caught.value.limit == 1024
    assert caught.value.size > 1024
    assert len(queue.receive(max_messages=10, wait_time_seconds=0)) == 1  # only the small one


def test_queue_url_is_resolved_once(queue: SqsQueue) -> None:
    calls: list[str] = []
    queue.client.meta.events.register(
        "before-call.sqs.GetQueueUrl", lambda **_: calls.append("GetQueueUrl")
    )
    for i in range(3):
        enqueue(queue, envelope(i))
    queue.receive(max_messages=10, wait_time_seconds=0)
    assert calls == ["GetQueueUrl"]


def test_a_missing_queue_is_reported_as_such(settings: Settings, mocked_aws: None) -> None:
    queue = SqsQueue.from_settings(settings, queue_name="absent")
    with pytest.raises(QueueNotFoundError, match="absent"):
        enqueue(queue, envelope())


def test_an_unreachable_endpoint_is_unavailable_not_a_crash() -> None:
    settings = make_settings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2, connect_timeout=0.5
    )
    queue = SqsQueue.from_settings(settings)
    with pytest.raises(AwsUnavailableError, match="unreachable"):
        queue.ping()


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {}}
    response["ResponseMetadata"]["HTTPStatusCode"] = status
    return ClientError(response, "SendMessage")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (client_error("ThrottlingException", 400), AwsUnavailableError),
        (client_error("RequestThrottled", 403), AwsUnavailableError),
        (client_error("InternalError", 500), AwsUnavailableError),
        (client_error("SomethingNew", 503), AwsUnavailableError),
        (client_error("AWS.SimpleQueueService.NonExistentQueue", 400), QueueNotFoundError),
        (client_error("InvalidParameterValue", 400), AwsRequestError),
        (client_error("AccessDenied", 403), AwsRequestError),
        (EndpointConnectionError(endpoint_url="http://x"), AwsUnavailableError),
    ],
)
def test_botocore_errors_become_our_own(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, translate_errors("SQS", "q"):
        raise raised
    assert caught.value.__cause__ is raised


def test_send_batch_can_delay_its_messages(queue: SqsQueue) -> None:
    result = queue.send_batch([envelope(i).outgoing(delay_seconds=60) for i in range(3)])
    assert not result.failed
    assert queue.receive(max_messages=10, wait_time_seconds=0) == []
    delayed = queue.attributes("ApproximateNumberOfMessagesDelayed")
    assert delayed["ApproximateNumberOfMessagesDelayed"] == "3"
