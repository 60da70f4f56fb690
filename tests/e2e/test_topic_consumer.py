"""One consumer process serving every queue subscribed to a topic: fan-out end to end."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import StackFactory
from tests.e2e.test_dashboard import BROWSER_ARGS, UI_TIMEOUT_MS, browser_binary
from tests.e2e.test_topics import FILTERS, TOPICS
from tests.support import post_json, wait_for

pytestmark = pytest.mark.e2e


def test_a_published_message_is_handled_once_per_queue_whose_filter_matches(
    start_stack: StackFactory, tmp_path: Path
) -> None:
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text(TOPICS)
    stack = start_stack(TOPICS_FILE=str(topics_file), CONSUMER_QUEUES=",".join(FILTERS))
    messages = [
        {"type": "e2e.record", "payload": {"region": "eu"}},  # eu-orders and audit
        {"type": "e2e.record", "payload": {"region": "us"}},  # audit only
    ]
    expected: Counter[str] = Counter()
    for message in messages:
        status, answer = post_json(f"{stack.producer_url}/topics/orders/messages", message)
        assert status == 202, answer
        expected[str(answer["id"])] = sum(match(message) for match in FILTERS.values())
    wait_for(
        lambda: len(stack.handled_ids()) >= sum(expected.values()),
        timeout=30,
        what=f"fan-out handled\n{stack.consumer.output}",
    )
    assert Counter(stack.handled_ids()) == expected
    assert sorted(expected.values()) == [1, 2]
    eu = next(message_id for message_id, n in expected.items() if n == 2)

    def queues_done() -> dict[str, str]:
        with urllib.request.urlopen(f"{stack.producer_url}/messages/{eu}", timeout=5) as answer:  # noqa: S310
            status = json.loads(answer.read())
        return {queue: progress["stage"] for queue, progress in status["queues"].items()}

    wait_for(  # one status per subscribed queue that took it, each entry naming its queue
        lambda: queues_done() == dict.fromkeys(matching(messages[0]), "done"),
        timeout=30,
        what="the eu message done on both its queues",
    )
    with sync_playwright() as playwright:  # the dashboard's lookup shows each queue's stage
        browser = playwright.chromium.launch(executable_path=browser_binary(), args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{stack.producer_url}/", timeout=UI_TIMEOUT_MS)
            page.fill("#lookup-id", eu)
            page.press("#lookup-id", "Enter")
            reached = page.locator(f'#lookup-result [data-id="{eu}"] .queue-stage')
            expect(reached).to_have_count(2, timeout=UI_TIMEOUT_MS)
            for queue in matching(messages[0]):
                expect(reached.and_(page.locator(f'[data-queue="{queue}"]'))).to_contain_text(
                    f"{queue} done"
                )
            # the queue panel lists every declared queue, each followed by its dead letters
            rows = page.locator("#queue-rows tr")
            declared = ["messages", *FILTERS]
            expect(rows).to_have_count(2 * len(declared), timeout=UI_TIMEOUT_MS)
            names = [row.get_attribute("data-queue") for row in rows.all()]
            assert names[0::2] == ["messages", *FILTERS]
            assert names[1::2] == ["messages-dlq", *(f"{queue}-dlq" for queue in FILTERS)]
            for queue in declared:
                expect(page.locator(f'#queue-rows tr[data-queue="{queue}"] td').first).to_have_text(
                    "0", timeout=UI_TIMEOUT_MS
                )
        finally:
            browser.close()


def matching(message: dict[str, Any]) -> list[str]:
    return sorted(queue for queue, match in FILTERS.items() if match(message))
