"""Publish/subscribe over real processes: bootstrap and producer against moto's HTTP server.

Every message must reach exactly the queues whose filters match it, whatever moto's own
shortcuts: each queue is drained and its envelope ids compared as a set.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.processes import free_port
from shared.aws import ReceivedMessage, SqsQueue
from shared.messages.envelope import Envelope
from shared.settings import Settings
from tests.support import ROOT, Service, http_status, post_json, service_env, wait_for

pytestmark = pytest.mark.e2e

TOPICS = """
[topics.orders]
[[topics.orders.subscriptions]]
queue = "billing"
filter_policy = { type = ["order.created", "order.paid"] }

[[topics.orders.subscriptions]]
queue = "eu-orders"
filter_scope = "MessageBody"
filter_policy = { payload = { region = ["eu"] } }

[[topics.orders.subscriptions]]
queue = "audit"
"""

FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "billing": lambda m: m["type"] in {"order.created", "order.paid"},
    "eu-orders": lambda m: m["payload"].get("region") == "eu",
    "audit": lambda m: True,
}
"""The filters above, as Python: which queue each message must reach."""

MESSAGES: list[dict[str, Any]] = [
    {"type": "order.created", "payload": {"region": "eu"}, "attributes": {"tenant": "acme"}},
    {"type": "order.created", "payload": {"region": "us"}},
    {"type": "order.paid", "payload": {"region": "eu", "amount": 3}},
    {"type": "order.shipped", "payload": {"region": "eu"}, "attributes": {"tenant": "acme"}},
    {"type": "order.shipped", "payload": {"region": "us"}},
    {"type": "user.signup", "payload": {"email": "a@example.com"}},
    {"type": "order.paid", "payload": {"region": "EU"}},
    {"type": "order.cancelled", "payload": {"note": "region eu in the text only"}},
]


def bootstrap(endpoint: str, topics_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.bootstrap"],
        cwd=ROOT,
        env=service_env(endpoint, TOPICS_FILE=str(topics_file)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Producer:
    url: str
    settings: Settings
    service: Service

    def drain(self, queue: str) -> list[ReceivedMessage]:
        """Everything in the queue, hidden for a minute so nothing is counted twice."""
        source = SqsQueue.from_settings(self.settings, queue_name=queue)
        found: list[ReceivedMessage] = []
        for _ in range(20):
            batch = source.receive(max_messages=10, wait_time_seconds=0, visibility_timeout=60)
            if not batch:
                return found
            found.extend(batch)
        raise AssertionError(f"{queue} did not run dry after 200 messages")


@pytest.fixture
def producer(moto_endpoint: str, tmp_path: Path) -> Iterator[Producer]:
    """Topics bootstrapped by the real command, then the producer as a real process."""
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(TOPICS)
    done = bootstrap(moto_endpoint, topics_file)
    assert done.returncode == 0, done.stderr
    port = free_port()
    env = service_env(moto_endpoint, TOPICS_FILE=str(topics_file), PRODUCER_PORT=str(port))
    service = Service(["-m", "producer"], env, tmp_path / "producer.log")
    url = f"http://127.0.0.1:{port}"
    wait_for(
        lambda: http_status(f"{url}/readyz") == 200,
        timeout=30,
        what=f"producer ready\n{service.output}",
    )
    settings = Settings(_env_file=None, sqs={"endpoint_url": moto_endpoint})
    yield Producer(url, settings, service)
    assert service.stop() == 0, service.output[-2000:]


def test_each_message_reaches_exactly_the_queues_whose_filters_match(producer: Producer) -> None:
    def publish(message: dict[str, Any]) -> str:
        status, body = post_json(f"{producer.url}/topics/orders/messages", message)
        assert status == 202, body
        assert body["topic"] == "orders"
        return str(body["id"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        published = list(pool.map(publish, MESSAGES))
    for queue, matches in FILTERS.items():
        received = producer.drain(queue)
        ids = [str(Envelope.from_body(m.body).id) for m in received]
        expected = {i for i, m in zip(published, MESSAGES, strict=True) if matches(m)}
        assert set(ids) == expected, queue
        assert len(ids) == len(expected), f"{queue} got a message twice"
        for message in received:  # raw delivery: what a direct send would have stored
            envelope = Envelope.from_body(message.body)
            assert message.text_attribute("type") == envelope.type
            assert message.text_attribute("correlation_id") == envelope.correlation_id
    with urllib.request.urlopen(f"{producer.url}/metrics", timeout=5) as response:  # noqa: S310
        metrics = response.read().decode()
    assert 'aws_requests_total{operation="PublishBatch",service="sns"}' in metrics
    sets = [  # the three filters must pick three different sets, or the test proves little
        {i for i, m in zip(published, MESSAGES, strict=True) if f(m)} for f in FILTERS.values()
    ]
    assert len({frozenset(s) for s in sets}) == 3


def test_an_unknown_topic_is_a_404_and_the_declared_ones_are_listed(producer: Producer) -> None:
    status, body = post_json(
        f"{producer.url}/topics/refunds/messages", {"type": "a", "payload": {}}
    )
    assert status == 404
    assert body["detail"] == "unknown topic 'refunds'; known topics: orders"
    with urllib.request.urlopen(f"{producer.url}/topics", timeout=5) as response:  # noqa: S310
        listed = response.read().decode()
    assert '"queue":"eu-orders"' in listed
    assert '"filter_scope":"MessageBody"' in listed


def test_a_filter_sns_rejects_makes_bootstrap_exit_1_naming_topic_and_queue(
    moto_endpoint: str, tmp_path: Path
) -> None:
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(
        TOPICS.replace('["order.created", "order.paid"]', '[{ numeric = ["<", "x"] }]')
    )
    done = bootstrap(moto_endpoint, topics_file)
    assert done.returncode == 1, done.stderr
    assert "topic 'orders', queue 'billing': SNS rejected the filter policy" in done.stderr
    assert "must be numeric" in done.stderr


def test_the_producer_refuses_to_start_with_a_bad_topics_file(
    moto_endpoint: str, tmp_path: Path
) -> None:
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(
        '[topics."pay.fifo"]\n[[topics."pay.fifo".subscriptions]]\nqueue = "ledger"\n'
    )
    env = service_env(moto_endpoint, TOPICS_FILE=str(topics_file), PRODUCER_PORT=str(free_port()))
    done = subprocess.run(
        [sys.executable, "-m", "producer"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "cannot start" in done.stderr
    assert (
        "topic 'pay.fifo': queue 'ledger': a FIFO topic delivers only to FIFO queues" in done.stderr
    )
    assert "Traceback" not in done.stderr
