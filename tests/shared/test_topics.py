"""The topics file: what it declares, and every mistake named by topic and queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.messages.dead_letter import dead_letter_name
from shared.topology.topics import FilterScope, TopicsConfigError
from shared.topology.topics_file import load_topics, load_topics_file
from tests.conftest import make_settings
from tests.support import ROOT

ORDERS = """
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

[topics."payments.fifo"]
content_based_deduplication = true
[[topics."payments.fifo".subscriptions]]
queue = "ledger.fifo"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(text)
    return path


def test_a_file_declares_topics_subscriptions_and_filters(tmp_path: Path) -> None:
    config = load_topics_file(write(tmp_path, ORDERS))
    assert config.names == ["orders", "payments.fifo"]
    orders = config.get("orders")
    assert orders is not None
    assert not orders.fifo
    billing, eu, audit = orders.subscriptions
    assert billing.policy() == {"type": ["order.created", "order.paid"]}
    assert billing.filter_scope is FilterScope.MESSAGE_ATTRIBUTES
    assert eu.policy() == {"payload": {"region": ["eu"]}}
    assert eu.filter_scope is FilterScope.MESSAGE_BODY
    assert audit.policy() is None
    payments = config.get("payments.fifo")
    assert payments is not None
    assert payments.fifo
    assert payments.content_based_deduplication
    assert config.get("nope") is None


def test_queues_fed_by_several_topics_are_listed_once(tmp_path: Path) -> None:
    text = ORDERS + '\n[topics.refunds]\n[[topics.refunds.subscriptions]]\nqueue = "audit"\n'
    feeds = load_topics_file(write(tmp_path, text)).feeds()
    assert [topic.name for topic in feeds["audit"]] == ["orders", "refunds"]
    assert list(feeds) == ["billing", "eu-orders", "audit", "ledger.fifo"]


def test_the_loaded_config_cannot_be_changed(tmp_path: Path) -> None:
    config = load_topics_file(write(tmp_path, "[topics.orders]\n"))
    with pytest.raises(ValidationError):
        config.topics[0].name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.topics.append(config.topics[0])  # type: ignore[attr-defined]


def test_a_returned_policy_is_a_copy(tmp_path: Path) -> None:
    config = load_topics_file(write(tmp_path, ORDERS))
    billing = config.topics[0].subscriptions[0]
    policy = billing.policy()
    assert policy is not None
    policy["type"].append("tampered")
    assert billing.policy() == {"type": ["order.created", "order.paid"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[topics.orders", ["not valid TOML"]),
        ("[topics.orders]\n[topics.orders]\n", ["not valid TOML", "('topics', 'orders') twice"]),
        ("[topic.orders]\n", ["unknown key 'topic'"]),
        ("topics = 3\n", ["'topics' must be a table"]),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            'filter_policy = { type = "order.created" }\n',
            ["topic 'orders'", "queue 'billing'", "filter_policy.type must be a list"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            'filter_policy = ["order.created"]\n',
            ["topic 'orders'", "queue 'billing'", "filter_policy must be a non-empty table"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            "filter_policy = {}\n",
            ["queue 'billing'", "non-empty"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            'filter_policy = { payload = { region = ["eu"] } }\n',
            ["queue 'billing'", "filter_policy.payload: nested objects need", "MessageBody"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            'filter_scope = "Body"\nfilter_policy = { type = ["a"] }\n',
            ["queue 'billing'", "filter_scope must be 'MessageAttributes' or 'MessageBody'"],
        ),
        (
            '[topics."orders.fifo"]\n[[topics."orders.fifo".subscriptions]]\nqueue = "billing"\n',
            ["topic 'orders.fifo'", "queue 'billing'", "FIFO topic delivers only to FIFO queues"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing.fifo"\n',
            ["topic 'orders'", "queue 'billing.fifo'", "cannot subscribe to a standard topic"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            '[[topics.orders.subscriptions]]\nqueue = "billing"\n',
            ["topic 'orders'", "queue 'billing' is subscribed twice"],
        ),
        ('[topics."new orders"]\n', ["topic 'new orders': name: topic names have at most 256"]),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "' + "q" * 77 + '"\n',
            ["topic 'orders'", "queue 'qqq", "queue: queue names have at most 76"],
        ),
        ("[topics.orders]\ncontent_based_deduplication = true\n", ["only to FIFO topics"]),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            'filter = { type = ["a"] }\n',
            ["queue 'billing'", "filter: Extra inputs are not permitted"],
        ),
        (
            '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "billing"\n'
            '[[topics.orders.subscriptions]]\nqueue = "billing-dlq"\n',
            ["queue 'billing-dlq' is the dead-letter queue of 'billing'"],
        ),
    ],
)
def test_mistakes_are_named_by_topic_and_queue(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TopicsConfigError) as caught:
        load_topics_file(path)
    message = str(caught.value)
    assert message.startswith(f"topics file {path}: ")
    for fragment in expected:
        assert fragment in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TopicsConfigError, match=r"missing\.toml: cannot read it"):
        load_topics_file(tmp_path / "missing.toml")


def test_no_file_configured_means_no_topics() -> None:
    config = load_topics(make_settings())
    assert config.topics == ()
    assert config.names == []


def test_the_settings_file_is_read_and_checked_against_the_configured_queues(
    tmp_path: Path,
) -> None:
    settings = make_settings()
    settings.topics.file = write(tmp_path, ORDERS)
    assert load_topics(settings).names == ["orders", "payments.fifo"]
    settings.topics.file = write(
        tmp_path, '[topics.orders]\n[[topics.orders.subscriptions]]\nqueue = "messages-dlq"\n'
    )
    with pytest.raises(TopicsConfigError, match="queue 'messages-dlq': that is SQS_DLQ_NAME"):
        load_topics(settings)


def test_dead_letter_queues_of_fifo_queues_are_fifo() -> None:
    assert dead_letter_name("billing") == "billing-dlq"
    assert dead_letter_name("ledger.fifo") == "ledger-dlq.fifo"


def test_the_example_file_in_the_repository_loads() -> None:
    config = load_topics_file(ROOT / "topics.example.toml")
    assert config.topics
