from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.stub import Stubber
from typing_extensions import override

from shared.aws import (
    AwsRequestError,
    AwsUnavailableError,
    BatchSendResult,
    EntryFailure,
    OutgoingMessage,
    QueueDepth,
    ReceivedMessage,
    SqsQueue,
)
from shared.aws.clients import build_client
from shared.messages.dead_letter import Reason, dead_letter_attributes
from shared.messages.envelope import Envelope
from shared.ops.dead_letters import DeadLetters
from shared.settings import Settings
from shared.topology.queues import QueuePair
from tests.support import enqueue, wait_for


def sqs() -> Any:
    """A plain boto3 client (moto-backed in these tests), to act as consumer and SQS."""
    return boto3.client("sqs", region_name="us-east-1")


def envelope(n: int = 0, **payload: Any) -> Envelope:
    return Envelope(
        type="order.created", payload={"n": n, **payload}, attributes={"tenant": "acme"}
    )


def dead_letter(
    queues: QueuePair,
    sent: Envelope,
    reason: Reason = Reason.PERMANENT_ERROR,
    error: str = "card declined",
) -> None:
    """Dead-letter `sent` as the consumer does: body verbatim, the record in attributes."""
    original = sent.message_attributes()
    attributes = dead_letter_attributes(
        original, reason=reason, error=error, source_queue="messages", receive_count=3
    )
    sqs().send_message(
        QueueUrl=queues.dlq_url, MessageBody=sent.to_body(), MessageAttributes=attributes
    )


def moved_by_sqs(queues: QueuePair, body: str = "not json at all") -> None:
    """A message SQS moved after maxReceiveCount: its own attributes, no dead-letter record."""
    sqs().send_message(
        QueueUrl=queues.dlq_url,
        MessageBody=body,
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "legacy"}},
    )


def drain(url: str, expected: int) -> list[dict[str, Any]]:
    """Every message of a queue, hidden while collected; bounded to a few receives."""
    messages: dict[str, dict[str, Any]] = {}
    for _ in range(expected // 10 + 3):
        batch = (
            sqs()
            .receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                MessageAttributeNames=["All"],
            )
            .get("Messages", [])
        )
        if not batch:
            break
        messages.update((m["MessageId"], m) for m in batch)
    return list(messages.values())


def string_attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}


def depth(dead_letters: DeadLetters) -> tuple[int, int]:
    current = dead_letters.depth()
    return current.visible, current.in_flight


@pytest.fixture
def dead_letters(settings: Settings, queues: QueuePair) -> DeadLetters:
    return DeadLetters.from_settings(settings)


def count_calls(dead_letters: DeadLetters, operation: str) -> list[str]:
    calls: list[str] = []
    dead_letters.dlq.client.meta.events.register(
        f"before-call.sqs.{operation}", lambda **_: calls.append(operation)
    )
    return calls


def test_peek_shows_recorded_reasons_and_moved_by_sqs_for_bare_messages(
    dead_letters: DeadLetters, queues: QueuePair
) -> None:
    failed = envelope(1)
    dead_letter(queues, failed, Reason.PERMANENT_ERROR, "ValueError: card declined")
    moved_by_sqs(queues)

    letters = {letter.reason: letter for letter in dead_letters.peek()}

    assert set(letters) == {Reason.PERMANENT_ERROR, Reason.MOVED_BY_SQS}
    recorded = letters[Reason.PERMANENT_ERROR]
    assert recorded.envelope_id == str(failed.id)
    assert recorded.type == "order.created"
    assert recorded.correlation_id == failed.correlation_id
    assert recorded.error == "ValueError: card declined"
    assert recorded.source_queue == "messages"
    assert recorded.receive_count == 3
    assert recorded.failed_at is not None
    assert recorded.sent_at is not None
    assert failed.to_body().startswith(recorded.body_preview.removesuffix("…"))
    assert recorded.attributes == {
        "tenant": "acme",
        "type": "order.created",
        "correlation_id": failed.correlation_id,
    }
    bare = letters[Reason.MOVED_BY_SQS]
    assert (bare.envelope_id, bare.type, bare.error, bare.receive_count) == (None,) * 4
    assert bare.body_preview == "not json at all"
    assert bare.attributes == {"origin": "legacy"}


def test_peek_does_not_consume(dead_letters: DeadLetters, queues: QueuePair) -> None:
    for n in range(15):
        dead_letter(queues, envelope(n))

    letters = dead_letters.peek(limit=12)

    assert len({letter.message_id for letter in letters}) == 12
    assert depth(dead_letters) == (15, 0)
    assert len(drain(queues.dlq_url, 15)) == 15, "every message can still be received"


def test_peek_is_bounded_in_messages_and_receives(
    dead_letters: DeadLetters, queues: QueuePair
) -> None:
    for n in range(15):
        dead_letter(queues, envelope(n))
    receives = count_calls(dead_letters, "ReceiveMessage")

    assert len(dead_letters.peek(limit=3)) == 3
    assert len(receives) == 1
    receives.clear()
    assert len(dead_letters.peek(limit=50)) == 15
    assert len(receives) <= 50 // 10 + 2
    with pytest.raises(ValueError, match="at least 1"):
        dead_letters.peek(limit=0)


def test_peek_truncates_long_bodies(dead_letters: DeadLetters, queues: QueuePair) -> None:
    moved_by_sqs(queues, "x" * 1000)
    [letter] = dead_letters.peek()
    assert len(letter.body_preview) == 200
    assert letter.body_preview.endswith("…")


def test_count_and_depth(dead_letters: DeadLetters, queues: QueuePair) -> None:
    assert dead_letters.count() == 0
    for n in range(4):
        dead_letter(queues, envelope(n))
    sqs().receive_message(QueueUrl=queues.dlq_url, MaxNumberOfMessages=1, VisibilityTimeout=30)
    assert dead_letters.count() == 3
    assert depth(dead_letters) == (3, 1)


def test_redrive_falls_back_on_moto_and_restores_the_original_messages(
    dead_letters: DeadLetters, queues: QueuePair
) -> None:
    originals = [envelope(n) for n in range(3)]
    for sent in originals:
        dead_letter(queues, sent)
    moved_by_sqs(queues)

    result = dead_letters.redrive()

    assert (result.moved, result.failed, result.method) == (4, 0, "move-loop")
    assert result.stopped == "all-moved"
    assert result.fallback_reason is not None
    assert "StartMessageMoveTask" in result.fallback_reason
    assert depth(dead_letters) == (0, 0)
    back = {m["Body"]: string_attributes(m) for m in drain(queues.queue_url, 4)}
    assert set(back) == {e.to_body() for e in originals} | {"not json at all"}
    for sent in originals:
        assert back[sent.to_body()] == {
            "tenant": "acme",
            "type": "order.created",
            "correlation_id": sent.correlation_id,
        }
    assert back["not json at all"] == {"origin": "legacy"}


def test_redrive_honours_max_messages(dead_letters: DeadLetters, queues: QueuePair) -> None:
    for n in range(25):
        dead_letter(queues, envelope(n))

    result = dead_letters.redrive(max_messages=7)

    assert (result.moved, result.stopped, result.method) == (7, "max-messages", "move-loop")
    assert result.fallback_reason is not None
    assert "max_messages" in result.fallback_reason
    assert depth(dead_letters) == (18, 0)
    assert len(drain(queues.queue_url, 7)) == 7
    with pytest.raises(ValueError, match="at least 1"):
        dead_letters.redrive(max_messages=0)


def test_redrive_stops_at_its_time_limit(dead_letters: DeadLetters, queues: QueuePair) -> None:
    dead_letter(queues, envelope())
    result = dead_letters.redrive(native=False, time_limit=0)
    assert (result.moved, result.stopped, result.fallback_reason) == (0, "time-limit", None)
    assert depth(dead_letters) == (1, 0)


class Journal:
    """What happened to which body, in order, across both queues."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.bodies: dict[str, str] = {}
        """Receipt handle -> body, to name what a delete removes."""


class FlakySource(SqsQueue):
    """The real source queue, except that SQS 'fails' the entries whose body is doomed."""

    def __init__(self, real: SqsQueue, journal: Journal, *, sender_fault: bool) -> None:
        super().__init__(real.client, real.name)
        self.journal = journal
        self.sender_fault = sender_fault
        self.attempts: dict[str, int] = {}

    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        for m in messages:
            self.attempts[m.body] = self.attempts.get(m.body, 0) + 1
        doomed = [m for m in messages if '"doomed":true' in m.body]
        result = super().send_batch([m for m in messages if m not in doomed])
        by_id = {m.id: m.body for m in messages}
        self.journal.events.extend(("sent", by_id[ok.entry_id]) for ok in result.sent)
        failures = [
            EntryFailure(m.id, "InternalError", "simulated", self.sender_fault) for m in doomed
        ]
        return BatchSendResult(result.sent, result.failed + failures)


class RecordingDlq(SqsQueue):
    """The real dead-letter queue, journaling every delete by the body it removes."""

    def __init__(self, real: SqsQueue, journal: Journal) -> None:
        super().__init__(real.client, real.name)
        self.journal = journal

    @override
    def receive(
        self, *, max_messages: int, wait_time_seconds: int, visibility_timeout: int | None = None
    ) -> list[ReceivedMessage]:
        batch = super().receive(
            max_messages=max_messages,
            wait_time_seconds=wait_time_seconds,
            visibility_timeout=visibility_timeout,
        )
        self.journal.bodies.update((m.receipt_handle, m.body) for m in batch)
        return batch

    @override
    def delete_batch(self, receipt_handles: Sequence[str]) -> list[EntryFailure]:
        self.journal.events.extend(("deleted", self.journal.bodies[h]) for h in receipt_handles)
        return super().delete_batch(receipt_handles)


@pytest.mark.parametrize(("sender_fault", "attempts"), [(False, 3), (True, 1)])
def test_failed_sends_stay_in_the_dlq_and_nothing_is_deleted_before_it_is_sent(
    settings: Settings, queues: QueuePair, sender_fault: bool, attempts: int
) -> None:
    originals = [envelope(n, doomed=n in (1, 3)) for n in range(5)]
    for sent in originals:
        dead_letter(queues, sent)
    doomed = {e.to_body() for e in originals if e.payload["doomed"]}
    healthy = {e.to_body() for e in originals} - doomed
    client = build_client("sqs", settings)
    journal = Journal()
    source = FlakySource(SqsQueue(client, "messages"), journal, sender_fault=sender_fault)
    dlq = RecordingDlq(SqsQueue(client, "messages-dlq"), journal)
    dead_letters = DeadLetters(source, dlq, poll_seconds=0, hold_seconds=1, retry_delay=0)

    result = dead_letters.redrive(native=False)

    assert (result.moved, result.failed, result.stopped) == (3, 2, "all-moved")
    assert all(source.attempts[body] == attempts for body in doomed)
    deleted = [body for event, body in journal.events if event == "deleted"]
    assert set(deleted) == healthy
    for index, (event, body) in enumerate(journal.events):
        if event == "deleted":
            assert ("sent", body) in journal.events[:index], "deleted before it was sent"
    assert {m["Body"] for m in drain(queues.queue_url, 5)} == healthy
    assert depth(dead_letters) == (0, 2), "the failed two are held, not lost"
    back = wait_for(
        lambda: drain(queues.dlq_url, 2), timeout=10, what="failed messages back in the DLQ"
    )
    assert {m["Body"] for m in back} == doomed


class UnreachableSource(SqsQueue):
    @override
    def send_batch(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        raise AwsUnavailableError("SQS unreachable: simulated", "SQS")


def test_a_send_that_raises_deletes_nothing(settings: Settings, queues: QueuePair) -> None:
    for n in range(3):
        dead_letter(queues, envelope(n))
    client = build_client("sqs", settings)
    dead_letters = DeadLetters(
        UnreachableSource(client, "messages"),
        SqsQueue(client, "messages-dlq"),
        poll_seconds=0,
        retry_delay=0,
    )
    deletes = count_calls(dead_letters, "DeleteMessageBatch")

    result = dead_letters.redrive(native=False)

    assert (result.moved, result.failed) == (0, 3)
    assert deletes == []
    assert sum(depth(dead_letters)) == 3


def source_arn(queues: QueuePair) -> str:
    attributes = sqs().get_queue_attributes(QueueUrl=queues.queue_url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def test_native_redrive_starts_a_move_task_from_the_dlq_to_the_source(
    dead_letters: DeadLetters, queues: QueuePair
) -> None:
    dead_letter(queues, envelope())
    expected = {"SourceArn": queues.dlq_arn, "DestinationArn": source_arn(queues)}
    assert (dead_letters.dlq.arn, dead_letters.source.arn) == (
        expected["SourceArn"],
        expected["DestinationArn"],
    )  # looked up (and cached) before the stubber answers every call
    with Stubber(dead_letters.dlq.client) as stubber:
        stubber.add_response("start_message_move_task", {"TaskHandle": "task-1"}, expected)
        result = dead_letters.redrive()  # any other call (a move loop) would be unstubbed
        stubber.assert_no_pending_responses()

    assert result.method == "native"
    assert (result.task_handle, result.moved, result.stopped) == ("task-1", 0, "native-task")
    assert depth(dead_letters) == (1, 0), "the move loop did not run"


def answer_move_task_with(dead_letters: DeadLetters, code: str, status: int) -> None:
    """Make StartMessageMoveTask fail as an endpoint would; every other call reaches moto."""
    error: dict[str, Any] = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    response = AWSResponse("http://sqs", status, HTTPHeaders(), None)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return response, error

    # botocore uses a before-call handler's answer instead of sending (Stubber works so)
    dead_letters.dlq.client.meta.events.register(
        "before-call.sqs.StartMessageMoveTask",
        answer,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("code", "status"), [("UnsupportedOperation", 400), ("InvalidAction", 400), ("500", 500)]
)
def test_redrive_falls_back_when_the_move_task_is_not_supported(
    dead_letters: DeadLetters, queues: QueuePair, code: str, status: int
) -> None:
    dead_letter(queues, envelope())
    answer_move_task_with(dead_letters, code, status)

    result = dead_letters.redrive()

    assert (result.method, result.moved) == ("move-loop", 1)
    assert result.fallback_reason is not None
    assert f"HTTP {status}" in result.fallback_reason
    assert depth(dead_letters) == (0, 0)


def test_a_refused_move_task_is_reported_not_bypassed(
    dead_letters: DeadLetters, queues: QueuePair
) -> None:
    dead_letter(queues, envelope())
    answer_move_task_with(dead_letters, "AccessDenied", 403)

    with pytest.raises(AwsRequestError, match="AccessDenied"):
        dead_letters.redrive()

    assert depth(dead_letters) == (1, 0)


def test_purge_empties_the_dlq_only(
    dead_letters: DeadLetters, queues: QueuePair, settings: Settings
) -> None:
    for n in range(3):
        dead_letter(queues, envelope(n))
    source = SqsQueue.from_settings(settings)
    enqueue(source, envelope(10), envelope(11))

    dead_letters.purge()

    assert depth(dead_letters) == (0, 0)
    assert source.attributes("ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "2"}
    with pytest.raises(AwsRequestError, match="PurgeQueueInProgress"):
        dead_letters.purge()


def test_dead_letters_serialise_to_json(dead_letters: DeadLetters, queues: QueuePair) -> None:
    dead_letter(queues, envelope())
    [letter] = dead_letters.peek()
    data = json.loads(letter.model_dump_json())
    assert data["reason"] == "permanent_error"
    assert data["failed_at"].startswith("20")


class DiesAgain:
    """The source queue's sends, with a consumer whose handler is still broken: each message
    sent back is dead-lettered again at once, as a new copy in the dead-letter queue."""

    def __init__(self, source: SqsQueue, queues: QueuePair) -> None:
        self.send_batch = source.send_batch
        self.queues = queues
        self.sent = 0

    def __call__(self, messages: Sequence[OutgoingMessage]) -> BatchSendResult:
        result = self.send_batch(messages)
        for message in messages:
            self.sent += 1
            dead_letter(self.queues, Envelope.from_body(message.body))
        return result


@pytest.mark.parametrize("depth_known", [True, False])
def test_a_redrive_moves_each_dead_letter_once_while_its_handler_still_fails(
    dead_letters: DeadLetters,
    queues: QueuePair,
    monkeypatch: pytest.MonkeyPatch,
    depth_known: bool,
) -> None:
    for n in range(3):
        dead_letter(queues, envelope(n))
    redrive = dead_letters._redrive
    dies_again = DiesAgain(redrive.source, queues)
    monkeypatch.setattr(redrive.source, "send_batch", dies_again)
    if not depth_known:  # then the bodies it moved are what stops it

        def unknown() -> QueueDepth:
            raise AwsRequestError("AccessDenied", "no GetQueueAttributes", "SQS")

        monkeypatch.setattr(redrive.dlq, "depth", unknown)

    result = dead_letters.redrive(native=False, time_limit=30)

    assert (result.moved, result.failed) == (3, 0)
    assert dies_again.sent == 3  # each went round once, not for the whole time limit
    assert result.stopped == ("all-moved" if depth_known else "empty")
    monkeypatch.undo()
    assert depth(dead_letters) == (3, 0)  # the new copies wait, visible, for a fixed handler


def test_ten_dead_letters_of_250_kb_redrive_in_one_command(
    dead_letters: DeadLetters, queues: QueuePair
) -> None:
    big = [envelope(n, blob="x" * 250_000) for n in range(10)]
    for sent in big:
        dead_letter(queues, sent)

    result = dead_letters.redrive(native=False)

    assert (result.moved, result.failed, result.stopped) == (10, 0, "all-moved")
    assert depth(dead_letters) == (0, 0)
    assert {m["Body"] for m in drain(queues.queue_url, 10)} == {e.to_body() for e in big}
