"""Message status across processes: consumer events reach the producer's GET /messages/{id}."""

from __future__ import annotations

import json
import secrets
import urllib.request
from typing import Any

import pytest

from shared.aws import OutgoingMessage
from shared.aws.sns import SnsTopic
from shared.messages.status_events import EVENT_LIST, Stage, StatusEvent
from tests.e2e.conftest import Stack, StackFactory
from tests.support import post_json, wait_for

pytestmark = pytest.mark.e2e


def status_of(stack: Stack, message_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{stack.producer_url}/messages/{message_id}", timeout=5) as answer:  # noqa: S310
        status: dict[str, Any] = json.loads(answer.read())
    return status


def final_status(stack: Stack, message_id: str, stage: str) -> dict[str, Any]:
    wait_for(
        lambda: status_of(stack, message_id)["stage"] == stage,
        timeout=30,
        what=f"{message_id} {stage}\n{stack.consumer.output[-2000:]}",
    )
    return status_of(stack, message_id)


def test_a_good_message_goes_to_done_and_a_poisoned_one_to_dead(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(SQS_MAX_RECEIVE_COUNT="2", CONSUMER_RETRY_BASE_SECONDS="0")
    good = post_json(f"{stack.producer_url}/messages", {"type": "e2e.record", "payload": {}})
    poisoned = post_json(f"{stack.producer_url}/messages", {"type": "e2e.fail", "payload": {}})
    assert (good[0], poisoned[0]) == (202, 202)

    done = final_status(stack, str(good[1]["id"]), "done")
    assert [h["stage"] for h in done["history"]] == ["accepted", "received", "processing", "done"]
    assert done["attempts"] == 1

    dead = final_status(stack, str(poisoned[1]["id"]), "dead")
    stages = [h["stage"] for h in dead["history"]]
    assert stages[0] == "accepted"
    assert stages.count("failed") == 1  # the first receive failed and was retried
    assert stages[-1] == "dead"  # the second, the last allowed, was dead-lettered
    assert dead["attempts"] == 2
    assert "retries_exhausted" in dead["error"]
    assert "always fails" in dead["error"]


def test_with_a_secret_signed_status_arrives_and_a_forged_body_is_dropped(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(SQS_EVENTS_SECRET=secrets.token_hex(16))
    sent = post_json(f"{stack.producer_url}/messages", {"type": "e2e.record", "payload": {}})
    assert sent[0] == 202
    message_id = str(sent[1]["id"])
    final_status(stack, message_id, "done")  # the consumer's events were signed and believed
    topic = SnsTopic.from_settings(stack.settings, str(stack.settings.sqs.events_topic))
    forged = StatusEvent(id=message_id, stage=Stage.DEAD, type="e2e.record", queue="x")
    topic.send_batch([OutgoingMessage("0", EVENT_LIST.dump_json([forged]).decode())])

    def forged_counted() -> bool:
        with urllib.request.urlopen(f"{stack.producer_url}/metrics", timeout=5) as answer:  # noqa: S310
            text = answer.read().decode()
        return 'producer_status_bodies_dropped_total{reason="forged"} 1.0' in text

    wait_for(forged_counted, timeout=20, what="the forged body counted")
    status = status_of(stack, message_id)
    assert status["stage"] == "done"
    assert "dead" not in [h["stage"] for h in status["history"]]
    assert "unsigned" not in stack.producer.output
