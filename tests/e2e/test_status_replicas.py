"""Status shared by producer replicas (PRODUCER_STATUS_STORE=dynamodb), with real processes.

Two producers and a consumer over moto's server: each producer answers for the messages
sent through the other, and still does after a restart. With DynamoDB unreachable, messages
still flow and GET says the status is unavailable.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import StackFactory
from tests.e2e.proxy import TcpProxy
from tests.support import post_json, wait_for

pytestmark = pytest.mark.e2e

PER_REPLICA = 3


def status_at(url: str, message_id: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/messages/{message_id}", timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def stages_at(url: str, ids: list[str]) -> list[str]:
    return [status_at(url, message_id)[1].get("stage", "?") for message_id in ids]


def wait_all_done(url: str, ids: list[str]) -> None:
    wait_for(
        lambda: stages_at(url, ids) == ["done"] * len(ids),
        timeout=30,
        what=f"every message done at {url}",
    )


def send(url: str, n: int) -> str:
    status, body = post_json(f"{url}/messages", {"type": "e2e.record", "payload": {"n": n}})
    assert status == 202, body
    return str(body["id"])


def test_every_replica_answers_done_for_every_message_and_still_does_after_a_restart(
    start_stack: StackFactory,
) -> None:
    stack = start_stack(PRODUCER_STATUS_STORE="dynamodb", SQS_EVENTS_SECRET="s" * 32)
    first = stack.producer_url
    second = stack.start_producer()
    ids = [send(first, n) for n in range(PER_REPLICA)]
    ids += [send(second, n) for n in range(PER_REPLICA, 2 * PER_REPLICA)]
    for url in (first, second):
        wait_all_done(url, ids)
    _, one = status_at(second, ids[0])  # sent through the first
    assert [entry["stage"] for entry in one["history"]] == [
        "accepted",
        "received",
        "processing",
        "done",
    ]
    stack.producer.stop()  # the first replica restarts: memory gone, the table stays
    restarted = stack.start_producer()
    assert stages_at(restarted, ids) == ["done"] * len(ids)


def test_with_dynamodb_unreachable_messages_flow_and_get_says_unavailable(
    start_stack: StackFactory, moto_endpoint: str
) -> None:
    with TcpProxy.to(moto_endpoint) as dynamodb:
        stack = start_stack(
            PRODUCER_STATUS_STORE="dynamodb",
            AWS_ENDPOINT_URL_DYNAMODB=dynamodb.url,
            SQS_MAX_ATTEMPTS="2",
            SQS_CONNECT_TIMEOUT="0.5",
        )
        dynamodb.cut()
        ids = [send(stack.producer_url, n) for n in range(PER_REPLICA)]
        wait_for(
            lambda: set(ids) <= set(stack.handled_ids()),
            timeout=30,
            what=f"messages handled while DynamoDB is down\n{stack.consumer.output[-2000:]}",
        )
        code, body = status_at(stack.producer_url, ids[0])
        assert code == 503, body
        assert body["detail"].startswith("status unavailable")
        dynamodb.restore()
    assert "Traceback" not in stack.producer.output
