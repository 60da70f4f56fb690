"""Fault injection over real processes: kills, outages, failing handlers, restarts, shutdown.

Every scenario counts the envelope ids it sent, what the handlers did with them (journals
written by `fault_handlers`) and what is left in each queue, and asserts nothing is lost.
The services talk to moto's HTTP server on 127.0.0.1, directly or through `TcpProxy`.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.aws import ReceivedMessage, SqsQueue
from shared.messages.dead_letter import DeadLetter
from shared.messages.envelope import Envelope
from tests.e2e.conftest import Stack, StackFactory, depth
from tests.e2e.proxy import TcpProxy
from tests.support import ROOT, Service, enqueue, service_env, wait_for

HANDLERS = "tests.e2e.recording_handlers,tests.e2e.fault_handlers"
# Journal names, as tests/e2e/fault_handlers.py writes them.
STARTED, COMPLETED, ATTEMPTS, FAILURES, EFFECTS = (
    "started",
    "completed",
    "attempts",
    "failures",
    "effects",
)


@dataclass(frozen=True)
class Event:
    """One journal line: which message, which consumer process, when (unix time)."""

    envelope_id: str
    pid: int
    at: float


class Journal:
    """Reads the event files the fault handlers write into one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def events(self, name: str) -> list[Event]:
        path = self.directory / f"{name}.txt"
        if not path.exists():
            return []
        lines = [line.split() for line in path.read_text().splitlines()]
        return [Event(line[0], int(line[1]), float(line[2])) for line in lines if len(line) == 3]

    def ids(self, name: str) -> list[str]:
        return [event.envelope_id for event in self.events(name)]

    def count(self, name: str) -> int:
        """How many events (lines) `name` holds, without parsing them."""
        path = self.directory / f"{name}.txt"
        return path.read_bytes().count(b"\n") if path.exists() else 0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Names in lower case."""
    body: dict[str, Any]
    seconds: float


def launch(start_stack: StackFactory, tmp_path: Path, **env: str) -> tuple[Stack, Journal]:
    """A stack whose consumer loads the fault handlers, and the journal they write."""
    directory = tmp_path / "faults"
    directory.mkdir(exist_ok=True)
    stack = start_stack(CONSUMER_HANDLERS=HANDLERS, E2E_FAULT_DIR=str(directory), **env)
    return stack, Journal(directory)


def post(stack: Stack, type_: str, payload: dict[str, Any], timeout: float = 15.0) -> Answer:
    """POST one message to the producer; any status is returned, with headers and timing."""
    request = urllib.request.Request(  # noqa: S310
        f"{stack.producer_url}/messages",
        data=json.dumps({"type": type_, "payload": payload}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, exc.headers, exc.read()
    lowered = {name.lower(): value for name, value in headers.items()}
    return Answer(status, lowered, json.loads(raw or b"{}"), time.monotonic() - started)


def accept(stack: Stack, type_: str, payload: dict[str, Any]) -> str:
    """POST one message that must be accepted; returns its envelope id."""
    answer = post(stack, type_, payload)
    assert answer.status == 202, answer
    return str(answer.body["id"])


def metrics(stack: Stack) -> dict[str, float]:
    """The current consumer's samples, keyed as exposed: `name{label="value"}`."""
    with urllib.request.urlopen(f"{stack.consumer_url}/metrics", timeout=5) as response:  # noqa: S310
        lines = response.read().decode().splitlines()
    samples = (line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))
    return {name: float(value) for name, value in samples}


def dlq(stack: Stack) -> SqsQueue:
    return stack.queue(stack.settings.sqs.dlq_name)


def wait_drained(stack: Stack, timeout: float = 30.0) -> None:
    """The main queue ends empty (nothing visible, in flight or delayed); so does the DLQ."""
    wait_for(lambda: depth(stack.queue()) == 0, timeout=timeout, interval=0.5, what="queue empty")
    assert depth(dlq(stack)) == 0


def receive_all(queue: SqsQueue, expected: int, timeout: float) -> list[ReceivedMessage]:
    """Receive (wait 0, keeping what is received) until `expected` arrived or `timeout` passed."""
    got: dict[str, ReceivedMessage] = {}
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for message in queue.receive(max_messages=10, wait_time_seconds=0):
            got[message.message_id] = message
    return list(got.values())


def peek_all(queue: SqsQueue) -> list[ReceivedMessage]:
    """The visible messages, received with visibility 0 so they stay where they are."""
    response = queue.client.receive_message(
        QueueUrl=queue.url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
        MessageAttributeNames=["All"],
    )
    return [ReceivedMessage.from_sqs(raw) for raw in response.get("Messages", [])]


def ids_of(messages: list[ReceivedMessage]) -> list[str]:
    return [str(Envelope.from_body(message.body).id) for message in messages]


def counted(pattern: str, *services: Service) -> int:
    return sum(service.output.count(pattern) for service in services)


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_consumer_killed_mid_handler_leaves_the_message_to_the_next_one(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    visibility = 3
    stack, journal = launch(
        start_stack, tmp_path, SQS_VISIBILITY_TIMEOUT=str(visibility), E2E_SLOW_SECONDS="60"
    )
    sent = accept(stack, "fault.slow", {"job": "long"})
    [first] = wait_for(lambda: journal.events(STARTED), timeout=20, what="handler started")
    victim = stack.consumer
    assert first.envelope_id == sent
    assert first.pid == victim.process.pid
    # Past its visibility timeout the message is still held (heartbeat), not delivered again.
    time.sleep(max(0.0, first.at + visibility + 0.5 - time.time()))
    counts = stack.queue().attributes(
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
    )
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }
    assert journal.ids(COMPLETED) == []

    killed_at = time.time()
    assert victim.stop(signal.SIGKILL, timeout=10) == -signal.SIGKILL
    successor = stack.start_consumer(E2E_SLOW_SECONDS="0.5")
    wait_for(lambda: journal.ids(COMPLETED), timeout=30, what="handled by the new consumer")
    wait_drained(stack)

    started, completed = journal.events(STARTED), journal.events(COMPLETED)
    print(f"\nredelivered {started[-1].at - killed_at:.1f}s after the SIGKILL")
    assert [(e.envelope_id, e.pid) for e in started] == [
        (sent, victim.process.pid),
        (sent, successor.process.pid),
    ]
    assert [(e.envelope_id, e.pid) for e in completed] == [(sent, successor.process.pid)]
    assert metrics(stack)["sqs_messages_deleted_total"] == 1


OUTAGE_SECONDS = 4.0


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_an_sqs_outage_gets_503s_then_everything_resumes_and_nothing_is_lost(
    start_stack: StackFactory, moto_endpoint: str, tmp_path: Path
) -> None:
    with TcpProxy.to(moto_endpoint) as proxy:
        stack, journal = launch(
            start_stack,
            tmp_path,
            SQS_ENDPOINT_URL=proxy.url,
            SQS_MAX_ATTEMPTS="2",
            SQS_CONNECT_TIMEOUT="0.5",
            E2E_SLOW_SECONDS="0.2",
        )
        before = [accept(stack, "fault.slow", {"n": n}) for n in range(20)]
        wait_for(lambda: journal.events(STARTED), timeout=20, what="consumer at work")

        proxy.cut()
        cut_at = time.monotonic()
        refusals = [post(stack, "fault.slow", {"during": "outage"})]
        while time.monotonic() - cut_at < OUTAGE_SECONDS:
            time.sleep(0.5)
            refusals.append(post(stack, "fault.slow", {"during": "outage"}))
        wait_for(
            lambda: metrics(stack).get("sqs_receive_errors_total", 0) > 0,
            timeout=20,
            interval=0.5,
            what=f"consumer receive errors (log: {stack.consumer.log_path})",
        )
        proxy.restore()
        outage = time.monotonic() - cut_at
        after = accept(stack, "fault.slow", {"n": "after"})

        expected = {*before, after}
        wait_for(
            lambda: expected <= set(journal.ids(COMPLETED)),
            timeout=60,
            interval=0.5,
            what=f"every message handled (log: {stack.consumer.log_path})",
        )
        wait_drained(stack)

    completed = journal.ids(COMPLETED)
    receive_errors = metrics(stack)["sqs_receive_errors_total"]
    print(
        f"\noutage {outage:.1f}s: {len(refusals)} POSTs refused in "
        f"{max(a.seconds for a in refusals):.2f}s at most, {proxy.refused} connections dropped, "
        f"{receive_errors:.0f} receive errors; {len(expected)} accepted, "
        f"{len(completed)} handled ({len(completed) - len(set(completed))} redeliveries)"
    )
    for answer in refusals:
        assert answer.status == 503, answer
        assert answer.headers["retry-after"] == "2"
        assert answer.body["detail"].startswith("message not stored")
    assert proxy.refused > 0
    assert set(completed) == expected  # nothing refused was stored; nothing accepted was lost
    assert "receive failed" in stack.consumer.output
    assert stack.consumer.alive()


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_handler_failing_twice_is_retried_with_growing_backoff_then_deleted(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    # moto's long poll notices an expired visibility timeout only once a second (it wakes
    # early for new messages alone), so the steps of the backoff must be wider than that.
    base = 2.0
    stack, journal = launch(
        start_stack, tmp_path, CONSUMER_RETRY_BASE_SECONDS=str(base), E2E_FLAKY_FAILURES="2"
    )
    sent = accept(stack, "fault.flaky", {"flaky": True})
    wait_for(lambda: journal.ids(COMPLETED), timeout=30, what="third attempt succeeded")
    wait_drained(stack)

    attempts = journal.events(ATTEMPTS)
    assert [e.envelope_id for e in attempts] == [sent] * 3
    first, second, third = (e.at for e in attempts)
    before_second, before_third = second - first, third - second
    print(f"\ngaps between attempts: {before_second:.2f}s, {before_third:.2f}s")
    assert journal.ids(COMPLETED) == [sent]
    assert before_second >= base  # visibility set to base * 2**0 after the first failure
    assert before_third >= 2 * base  # base * 2**1 after the second
    assert before_third > before_second
    samples = metrics(stack)
    assert samples["sqs_messages_retried_total"] == 2
    assert samples["sqs_messages_deleted_total"] == 1
    assert samples['sqs_messages_processed_total{handler="fault.flaky"}'] == 1


def admin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m shared.admin ...` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "shared.admin", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_message_that_always_fails_is_dead_lettered_then_redriven_intact(
    start_stack: StackFactory, moto_endpoint: str, tmp_path: Path
) -> None:
    stack, journal = launch(
        start_stack, tmp_path, SQS_MAX_RECEIVE_COUNT="3", CONSUMER_RETRY_BASE_SECONDS="1"
    )
    payload = {"order_id": "A-1", "amount": 9.5}
    sent = accept(stack, "fault.always", payload)
    wait_for(lambda: depth(dlq(stack)) == 1, timeout=40, interval=0.5, what="dead letter")
    assert depth(stack.queue()) == 0
    assert journal.ids(ATTEMPTS) == [sent] * 3

    [dead] = peek_all(dlq(stack))
    original = Envelope.from_body(dead.body)
    assert (str(original.id), original.type, original.payload) == (sent, "fault.always", payload)
    record = DeadLetter.from_message(dead)
    assert record.reason == "retries_exhausted"
    assert record.error == f"RuntimeError: injected permanent breakage of {sent}"
    assert record.receive_count == 3
    assert record.source_queue == stack.settings.sqs.queue_name
    samples = metrics(stack)
    assert samples['sqs_messages_dead_lettered_total{reason="retries_exhausted"}'] == 1
    assert samples["sqs_messages_retried_total"] == 2
    assert stack.consumer.stop() == 0

    redrive = admin("dlq", "redrive", env=service_env(moto_endpoint))
    print(f"\n$ python -m shared.admin dlq redrive\n{redrive.stdout}{redrive.stderr}")
    assert redrive.returncode == 0
    wait_for(lambda: depth(stack.queue()) == 1, timeout=20, what="message back in the queue")
    assert depth(dlq(stack)) == 0
    [back] = peek_all(stack.queue())
    assert back.body == dead.body
    assert back.receive_count == 1  # peeked once by this test, in the source queue
    assert back.text_attribute("type") == "fault.always"


MESSAGES = 2000
MAX_RATE = 50.0
"""Messages per second at most."""
WINDOW = 30
"""Messages accepted but not yet handled, at most. moto's ReceiveMessage costs time in
proportion to the queue's depth (and its server shares this process and two CPUs with the
services), so the sender waits for the consumer rather than let the queue deepen."""
SENDERS = 4
STALL_SECONDS = 60.0
"""Longest a sender waits for the consumer to catch up before the test fails."""


class PacedSender:
    """POSTs `count` messages from a few threads in the background, paced and windowed."""

    def __init__(self, stack: Stack, count: int, handled: Callable[[], int]) -> None:
        self.stack = stack
        self.count = count
        self.handled = handled
        self.answers: list[Answer] = []
        self.error: BaseException | None = None
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="sender", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> list[Answer]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"sender still running after {timeout}s"
        if self.error is not None:
            raise self.error
        return self.answers

    def _run(self) -> None:
        try:
            with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                self.answers = list(pool.map(self._send, range(self.count)))
        except BaseException as exc:  # noqa: BLE001 - re-raised by join()
            self.error = exc

    def _send(self, n: int) -> Answer:
        time.sleep(max(0.0, self._start + n / MAX_RATE - time.monotonic()))
        wait_for(
            lambda: n - self.handled() < WINDOW,
            timeout=STALL_SECONDS,
            what=f"the consumer to catch up with message {n}",
        )
        return post(self.stack, "fault.effect", {"n": n})


def completed_keys(stack: Stack) -> set[str]:
    """Idempotency records marked COMPLETED in the DynamoDB table the consumers share."""
    client = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name="us-east-1")
    keys: set[str] = set()
    pages = client.get_paginator("scan").paginate(
        TableName=stack.settings.consumer.idempotency_table
    )
    for page in pages:
        for item in page["Items"]:
            if item["status"]["S"] == "COMPLETED":
                keys.add(item["id"]["S"])
    return keys


@dataclass(frozen=True)
class LoadRun:
    answers: list[Answer]
    first: Service
    second: Service
    restarted_after: int
    """Effects recorded when the first consumer was stopped."""
    sending_seconds: float


def send_with_a_restart(stack: Stack, journal: Journal) -> LoadRun:
    """POST MESSAGES; once half are handled, SIGTERM the consumer (exit 0) and start another."""
    since = time.monotonic()
    sender = PacedSender(stack, MESSAGES, lambda: journal.count(EFFECTS))
    wait_for(
        lambda: journal.count(EFFECTS) >= MESSAGES // 2,
        timeout=240,
        interval=0.5,
        what="half the effects",
    )
    first = stack.consumer
    restarted_after = journal.count(EFFECTS)
    assert first.stop(signal.SIGTERM, timeout=30) == 0
    second = stack.start_consumer()
    answers = sender.join(timeout=240)
    return LoadRun(answers, first, second, restarted_after, time.monotonic() - since)


def redeliver(stack: Stack, envelope_ids: list[str]) -> None:
    """Send these envelope ids once more, as SQS's at-least-once delivery may."""
    envelopes = [
        Envelope(id=envelope_id, type="fault.effect", payload={"again": True})
        for envelope_id in envelope_ids
    ]
    enqueue(stack.queue(), *envelopes)


REDELIVERED = 20
DUPLICATE_LOG = "already handled by"


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_thousands_of_messages_with_failures_and_a_restart_have_each_effect_once(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    stack, journal = launch(
        start_stack,
        tmp_path,
        CONSUMER_IDEMPOTENCY_STORE="dynamodb",
        CONSUMER_RETRY_BASE_SECONDS="1",
        E2E_FAIL_PERCENT="10",
    )
    run = send_with_a_restart(stack, journal)
    accepted = {str(a.body["id"]) for a in run.answers if a.status == 202}
    wait_for(
        lambda: accepted <= set(journal.ids(EFFECTS)),
        timeout=120,
        interval=0.5,
        what="every accepted message's effect",
    )
    wait_drained(stack, timeout=60)
    consumers = (run.first, run.second)
    duplicates = counted(DUPLICATE_LOG, *consumers)
    # The table is shared: ids the stopped consumer handled are known to the new one.
    handled_by_first = [
        e.envelope_id for e in journal.events(EFFECTS) if e.pid == run.first.process.pid
    ]
    redeliver(stack, handled_by_first[:REDELIVERED])
    wait_for(
        lambda: counted(DUPLICATE_LOG, *consumers) == duplicates + REDELIVERED,
        timeout=30,
        what="redelivered envelopes acknowledged as duplicates",
    )
    wait_drained(stack)

    effects = Counter(journal.ids(EFFECTS))
    failures = journal.ids(FAILURES)
    print(
        f"\nsent {len(run.answers)}, accepted {len(accepted)}, "
        f"handled attempts {journal.count(ATTEMPTS)}, failures injected {len(failures)} "
        f"({len(set(failures))} ids), effects {sum(effects.values())} ({len(effects)} ids), "
        f"duplicates acknowledged {duplicates} (+{REDELIVERED} redelivered on purpose), "
        f"DLQ depth {depth(dlq(stack))}; restart after {run.restarted_after} effects; "
        f"sending took {run.sending_seconds:.0f}s ({MESSAGES / run.sending_seconds:.0f} msg/s), "
        f"slowest POST {max(a.seconds for a in run.answers):.2f}s"
    )
    assert len(run.answers) == MESSAGES
    assert Counter(a.status for a in run.answers) == {202: MESSAGES}
    assert len(accepted) == MESSAGES
    assert set(effects) == accepted
    assert [n for n in effects.values() if n != 1] == []
    assert 0 < len(set(failures)) < MESSAGES
    queue = stack.settings.sqs.queue_name
    expected, completed = {f"{queue}:fault.effect:{i}" for i in accepted}, completed_keys(stack)
    # Compared as counts and samples: a diff of two 2,000-element sets takes pytest minutes.
    missing, extra = sorted(expected - completed), sorted(completed - expected)
    assert (len(missing), len(extra)) == (0, 0), f"missing {missing[:3]}, extra {extra[:3]}"
    assert counted("handler fault.effect failed", *consumers) == len(failures)  # no others


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_sigterm_mid_batch_finishes_the_running_handler_and_releases_the_rest(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    shutdown_timeout = 5.0
    stack, journal = launch(
        start_stack,
        tmp_path,
        SQS_VISIBILITY_TIMEOUT="30",
        CONSUMER_SHUTDOWN_TIMEOUT_SECONDS=str(shutdown_timeout),
        E2E_SLOW_SECONDS="1",
    )
    assert stack.consumer.stop() == 0  # the batch waits in the queue for the next consumer
    sent = {accept(stack, "fault.slow", {"n": n}) for n in range(10)}
    # Ten held at once: two running, eight waiting for a handler.
    busy = stack.start_consumer(CONSUMER_CONCURRENCY="2", CONSUMER_PREFETCH="8")
    wait_for(lambda: journal.events(STARTED), timeout=20, what="first handler running")

    signalled = time.monotonic()
    assert busy.stop(signal.SIGTERM, timeout=shutdown_timeout + 10) == 0
    exited = time.monotonic()
    handled = journal.ids(COMPLETED)
    left = len(sent) - len(handled)
    released = receive_all(stack.queue(), left, timeout=5)
    visible_after = time.monotonic() - exited
    print(
        f"\nexit {exited - signalled:.2f}s after SIGTERM; {len(handled)} handled, "
        f"{len(released)} visible again {visible_after:.2f}s after exit (visibility 30s)"
    )
    assert exited - signalled < shutdown_timeout
    assert sorted(journal.ids(STARTED)) == sorted(handled)  # every running handler finished
    assert 1 <= len(handled) < len(sent)
    assert len(released) == left
    assert set(handled) | set(ids_of(released)) == sent
    assert len(handled) + len(released) == len(sent)
    assert visible_after < 5
    released_logged = re.findall(r"released (\d+) unstarted messages", busy.output)
    assert sum(int(n) for n in released_logged) == left
    assert depth(stack.queue()) == left  # the handled ones are deleted, nothing else
