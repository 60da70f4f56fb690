"""The whole path over real processes: HTTP POST → producer → SQS (moto's server) → consumer."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from scripts.processes import free_port
from shared.messages.dead_letter import DeadLetter
from shared.messages.envelope import Envelope
from tests.e2e.conftest import Stack, StackFactory, depth
from tests.support import Service, http_status, post_json, service_env, wait_for

pytestmark = pytest.mark.e2e

MESSAGES = 300


def accepted(stack: Stack, type_: str, payload: dict[str, object]) -> str:
    """POST one message; it must be accepted. Returns its envelope id."""
    status, body = post_json(f"{stack.producer_url}/messages", {"type": type_, "payload": payload})
    assert status == 202, body
    return str(body["id"])


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def test_every_posted_message_is_handled_once_and_the_queue_ends_empty(
    start_stack: StackFactory,
) -> None:
    stack = start_stack()

    def post(n: int) -> tuple[int, dict[str, object]]:
        return post_json(
            f"{stack.producer_url}/messages", {"type": "e2e.record", "payload": {"n": n}}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(MESSAGES)))
    assert [status for status, _ in answers] == [202] * MESSAGES
    accepted = {str(body["id"]) for _, body in answers}
    assert len(accepted) == MESSAGES

    wait_for(
        lambda: len(stack.handled_ids()) >= MESSAGES,
        timeout=120,
        interval=0.5,
        what=f"{MESSAGES} handled messages; consumer log:\n{stack.consumer.output[-3000:]}",
    )
    handled = stack.handled_ids()
    assert set(handled) == accepted
    assert len(handled) == MESSAGES  # no duplicates without failures
    wait_for(lambda: depth(stack.queue()) == 0, timeout=30, what="main queue drained")
    assert depth(stack.queue(stack.settings.sqs.dlq_name)) == 0
    wait_for(
        lambda: metric(stack.consumer_url, "sqs_messages_deleted_total") == MESSAGES,
        timeout=10,
        what="every message acknowledged",
    )
    assert metric(stack.consumer_url, "sqs_messages_received_total") == MESSAGES


def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(SQS_VISIBILITY_TIMEOUT="1", SQS_MAX_RECEIVE_COUNT="2")
    poison = accepted(stack, "e2e.fail", {"bad": True})
    dlq = stack.queue(stack.settings.sqs.dlq_name)
    wait_for(lambda: depth(dlq) == 1, timeout=30, interval=0.5, what="poison message in DLQ")
    [dead] = dlq.receive(max_messages=1, wait_time_seconds=0)
    assert str(Envelope.from_body(dead.body).id) == poison
    # The worker is still alive and handles the next good message.
    good = accepted(stack, "e2e.record", {})
    wait_for(lambda: good in stack.handled_ids(), timeout=20, what="good message handled")
    assert stack.consumer.alive()
    assert "always fails" in stack.consumer.output


def test_a_broken_envelope_is_dead_lettered_and_the_worker_goes_on(
    start_stack: StackFactory,
) -> None:
    stack = start_stack()
    queue = stack.queue()
    broken = '{"type": "no spaces allowed", "payload": {}}'
    queue.client.send_message(QueueUrl=queue.url, MessageBody=broken)
    good = accepted(stack, "e2e.record", {})
    wait_for(lambda: good in stack.handled_ids(), timeout=20, what="good message handled")
    dlq = stack.queue(stack.settings.sqs.dlq_name)
    wait_for(lambda: depth(dlq) == 1, timeout=10, what="the bad body in the DLQ")
    [dead] = dlq.receive(max_messages=1, wait_time_seconds=0)
    assert dead.body == broken
    assert DeadLetter.from_message(dead).reason == "invalid_body"
    assert "invalid_body" in stack.consumer.output
    assert stack.consumer.alive()


def test_bad_input_gets_its_status_and_nothing_reaches_the_queue(start_stack: StackFactory) -> None:
    stack = start_stack(CONSUMER_HANDLERS="")
    stack.consumer.stop()  # keep whatever arrives in the queue, to count it
    boto3.client("sqs", endpoint_url=stack.endpoint, region_name="us-east-1").set_queue_attributes(
        QueueUrl=stack.queues.queue_url, Attributes={"MaximumMessageSize": "1024"}
    )
    url = f"{stack.producer_url}/messages"

    def raw(body: bytes, content_type: str) -> int:
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers={"Content-Type": content_type}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert raw(b'{"type": ', "application/json") == 400
    assert raw(b"type=a", "application/x-www-form-urlencoded") == 415
    assert post_json(url, {"type": "a"})[0] == 422
    assert post_json(url, {"type": "a", "payload": {"x": "y" * 2000}})[0] == 413
    assert depth(stack.queue()) == 0
    assert post_json(url, {"type": "a", "payload": {"x": "fits"}})[0] == 202
    assert depth(stack.queue()) == 1


def test_producer_answers_503_while_sqs_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    env = service_env(
        f"http://127.0.0.1:{free_port()}",
        PRODUCER_PORT=str(port),
        SQS_MAX_ATTEMPTS="2",
        SQS_CONNECT_TIMEOUT="0.5",
    )
    producer = Service(["-m", "producer"], env, tmp_path / "producer.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_status(f"{url}/healthz") == 200, timeout=30, what="producer up")
        assert http_status(f"{url}/readyz") == 503
        request = urllib.request.Request(  # noqa: S310
            f"{url}/messages",
            data=json.dumps({"type": "a", "payload": {}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        assert caught.value.code == 503
        assert caught.value.headers["Retry-After"] == "2"
        assert "Traceback" not in caught.value.read().decode()
    finally:
        assert producer.stop() == 0


def test_consumer_stops_on_sigterm_and_sigint_with_exit_0(start_stack: StackFactory) -> None:
    stack = start_stack()
    started = time.monotonic()
    assert stack.consumer.stop(signal.SIGINT, timeout=15) == 0
    assert time.monotonic() - started < 10  # one long poll (1 s here) plus shutdown
    assert "stopped polling" in stack.consumer.output
    assert stack.producer.stop(signal.SIGTERM, timeout=15) == 0


def test_ctrl_c_stops_a_consumer_in_a_long_poll_at_once_and_says_so_once(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(SQS_WAIT_TIME_SECONDS="20")
    wait_for(lambda: "polling messages" in stack.consumer.output, timeout=10, what="polling")
    time.sleep(0.5)  # inside the 20-second receive now
    started = time.monotonic()
    stack.consumer.process.send_signal(signal.SIGINT)  # `uv run` forwards the terminal's
    stack.consumer.process.send_signal(signal.SIGINT)  # Ctrl-C, and the terminal sends one
    stack.consumer.process.wait(15)
    assert time.monotonic() - started < 5  # not the 20 s the poll would take
    assert stack.consumer.stop() == 0  # already stopped: its exit code, its log closed
    assert stack.consumer.output.count("SIGINT received") == 1
    sent = post_json(f"{stack.producer_url}/messages", {"type": "e2e.record", "payload": {}})
    assert sent[0] == 202
    stack.start_consumer()  # what the abandoned poll may have taken comes back; this arrives
    wait_for(lambda: str(sent[1]["id"]) in stack.handled_ids(), timeout=20, what="handled")
